from typing import Annotated

from fastapi import Depends

from omnikanal.auth.dependencies import require_roles
from omnikanal.auth.models import Role
from omnikanal.auth.service import StaffActor

# The channels' back ends (shop, app, tills), store staff, support and marketers.
RecommendationReader = Annotated[
    StaffActor,
    Depends(require_roles(Role.CHANNEL, Role.STORE, Role.AGENT, Role.MARKETER)),
]
ModelReader = Annotated[StaffActor, Depends(require_roles(Role.ANALYST, Role.MARKETER))]
