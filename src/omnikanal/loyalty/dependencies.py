from typing import Annotated

from fastapi import Depends

from omnikanal.auth.dependencies import require_roles
from omnikanal.auth.models import Role
from omnikanal.auth.service import StaffActor

# Who may see a member's points: those who serve the customer, and marketers.
LoyaltyReader = Annotated[StaffActor, Depends(require_roles(Role.AGENT, Role.STORE, Role.MARKETER))]
# Who may redeem or enrol: the till (store staff) and support agents.
LoyaltyOperator = Annotated[StaffActor, Depends(require_roles(Role.AGENT, Role.STORE))]
StaffReader = Annotated[StaffActor, Depends(require_roles(*Role))]
