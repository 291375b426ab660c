"""The access log: every read of a person's data records who, when, what and why."""

from enum import StrEnum
from uuid import UUID

from sqlalchemy.orm import Session

from omnikanal.auth.service import StaffActor
from omnikanal.privacy.models import AccessLogEntry


class AccessAction(StrEnum):
    PROFILE = "profile"
    PROFILE_360 = "profile_360"
    EXPORT = "export"
    CONVERSATION = "conversation"
    TRANSCRIPT = "transcript"


def record(
    session: Session,
    *,
    actor: StaffActor,
    action: AccessAction,
    profile_id: UUID | None = None,
    conversation_id: UUID | None = None,
    reason: str | None = None,
) -> AccessLogEntry:
    entry = AccessLogEntry(
        actor_kind=actor.kind.value,
        actor_id=actor.credential_id,
        actor_name=actor.name,
        actor_role=actor.role.value,
        action=action.value,
        profile_id=profile_id,
        conversation_id=conversation_id,
        reason=reason,
    )
    session.add(entry)
    return entry
