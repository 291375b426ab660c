from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, Field


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
