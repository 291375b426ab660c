from typing import Annotated

from fastapi import Depends

from omnikanal.auth.dependencies import require_roles
from omnikanal.auth.models import Role
from omnikanal.auth.service import StaffActor

# Imports write every domain and read files of personal data: admins only.
Importer = Annotated[StaffActor, Depends(require_roles(Role.ADMIN))]
