from typing import Annotated

from fastapi import Depends

from omnikanal.auth.dependencies import require_roles
from omnikanal.auth.models import Role
from omnikanal.auth.service import StaffActor

# Consent is changed by support, admins and the channels' back ends (a preference centre).
ConsentWriter = Annotated[StaffActor, Depends(require_roles(Role.AGENT, Role.ADMIN, Role.CHANNEL))]
ConsentReader = Annotated[
    StaffActor, Depends(require_roles(Role.AGENT, Role.ADMIN, Role.CHANNEL, Role.MARKETER))
]
# The cart-restore link is opened by the shop's or app's back end.
CartRestorer = Annotated[StaffActor, Depends(require_roles(Role.CHANNEL, Role.STORE, Role.AGENT))]
MessageReader = Annotated[StaffActor, Depends(require_roles(Role.MARKETER, Role.AGENT, Role.ADMIN))]
Marketer = Annotated[StaffActor, Depends(require_roles(Role.MARKETER, Role.ADMIN))]
