from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, Field

from omnikanal.privacy.access import AccessAction


class StepRead(BaseModel):
    domain: str
    status: str = Field(description="pending, done or failed.")
    count: int = Field(description="Rows deleted or anonymised by this step.")
    attempts: int = Field(description="Failed attempts so far (retried with backoff).")
    error: str | None
    done_at: datetime | None


class PrivacyRequestRead(BaseModel):
    id: UUID
    kind: str = Field(description="erasure")
    status: str = Field(description="queued, running, done or failed.")
    profile_id: UUID = Field(description="The profile the request named.")
    profile_ids: list[UUID] = Field(description="Every profile of the person (merged ones).")
    steps: list[StepRead] = Field(description="One per domain, in the order they run.")
    error: str | None
    requested_by: UUID
    requested_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


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
