from typing import Annotated

from fastapi import Depends

from omnikanal.auth.dependencies import require_roles
from omnikanal.auth.models import Role
from omnikanal.auth.service import StaffActor

# Carts: the channels' back ends, store staff (endless aisle) and support agents.
CartUser = Annotated[StaffActor, Depends(require_roles(Role.CHANNEL, Role.STORE, Role.AGENT))]
# Orders are placed by the channels' back ends and the stores' tills.
OrderTaker = Annotated[StaffActor, Depends(require_roles(Role.CHANNEL, Role.STORE))]
OrderReader = Annotated[
    StaffActor, Depends(require_roles(Role.CHANNEL, Role.STORE, Role.AGENT, Role.ANALYST))
]
# The order's later steps: the pickup store, the warehouse system, support (cancel).
OrderHandler = Annotated[StaffActor, Depends(require_roles(Role.CHANNEL, Role.STORE, Role.AGENT))]
ReturnTaker = Annotated[StaffActor, Depends(require_roles(Role.CHANNEL, Role.STORE, Role.AGENT))]
AuditReader = Annotated[StaffActor, Depends(require_roles(Role.ANALYST))]
