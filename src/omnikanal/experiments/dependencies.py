from typing import Annotated

from fastapi import Depends

from omnikanal.auth.dependencies import require_roles
from omnikanal.auth.models import Role
from omnikanal.auth.service import StaffActor

# Marketers design and run experiments (admins may too).
Designer = Annotated[StaffActor, Depends(require_roles(Role.MARKETER))]
# Who reads experiments and their results.
Reader = Annotated[StaffActor, Depends(require_roles(Role.MARKETER, Role.ANALYST))]
# Who asks for a unit's variant: channels' back ends, tills and staff tools.
Assigner = Annotated[
    StaffActor,
    Depends(require_roles(Role.CHANNEL, Role.STORE, Role.AGENT, Role.MARKETER, Role.ANALYST)),
]
