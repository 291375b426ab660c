from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict

from omnikanal.auth.dependencies import require_roles
from omnikanal.auth.models import Role
from omnikanal.auth.service import StaffActor
from omnikanal.http import DbSession
from omnikanal.notifications import service
from omnikanal.notifications.models import NotificationStatus
from omnikanal.privacy import access
from omnikanal.privacy.access import AccessAction
from omnikanal.privacy.dependencies import AccessReason

STATUS_PATTERN = "^(" + "|".join(NotificationStatus.ALL) + ")$"

router = APIRouter(prefix="/v1", tags=["notifications"])

NotificationReader = Annotated[
    StaffActor, Depends(require_roles(Role.AGENT, Role.MARKETER, Role.CHANNEL))
]


class NotificationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    kind: str
    reference: str
    channel: str
    recipient: str
    subject: str
    body: str
    status: str
    created_at: datetime
    sent_at: datetime | None
    last_error: str | None


class NotificationList(BaseModel):
    profile_id: UUID
    items: list[NotificationRead]


@router.get("/profiles/{profile_id}/notifications", response_model=NotificationList)
def profile_notifications(
    profile_id: UUID,
    session: DbSession,
    actor: NotificationReader,
    status: Annotated[
        str | None, Query(pattern="^(" + "|".join(NotificationStatus.ALL) + ")$")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    reason: AccessReason = None,
) -> NotificationList:
    """What the person was told, or is owed, newest first."""
    live, found = service.of_profile(session, profile_id=profile_id, status=status, limit=limit)
    access.record(
        session, actor=actor, action=AccessAction.NOTIFICATIONS, profile_id=live, reason=reason
    )
    return NotificationList(
        profile_id=live, items=[NotificationRead.model_validate(n) for n in found]
    )
