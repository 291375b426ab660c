from typing import Annotated

from fastapi import Depends

from omnikanal.auth.dependencies import require_roles
from omnikanal.auth.models import Role
from omnikanal.auth.service import StaffActor

CatalogReader = Annotated[StaffActor, Depends(require_roles(*Role))]
# Marketers run promotions; product data and prices are the admin's (or the ERP's key).
PromotionWriter = Annotated[StaffActor, Depends(require_roles(Role.MARKETER))]
