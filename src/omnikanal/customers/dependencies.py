from typing import Annotated

from fastapi import Depends

from omnikanal.auth.dependencies import require_roles
from omnikanal.auth.models import Role
from omnikanal.auth.service import StaffActor

# Everyone on staff may look a customer up; write keys may not.
ProfileReader = Annotated[StaffActor, Depends(require_roles(*Role))]
# Undoing a merge is for support agents (and admins).
ProfileEditor = Annotated[StaffActor, Depends(require_roles(Role.AGENT))]
