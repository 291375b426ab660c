from datetime import datetime
from uuid import UUID

from pydantic import BaseModel

from omnikanal.privacy.access import AccessAction


class AccessActorRead(BaseModel):
    """Who read: a secret key or a staff account, by id, with its name and role then."""

    kind: str
    id: UUID
    name: str
    role: str


class AccessLogEntryRead(BaseModel):
    at: datetime
    actor: AccessActorRead
    action: AccessAction
    profile_id: UUID | None
    conversation_id: UUID | None
    reason: str | None


class AccessLogPage(BaseModel):
    items: list[AccessLogEntryRead]
    next_cursor: str | None = None
