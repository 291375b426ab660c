from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

PurposeName = Literal["transactional", "marketing"]
ConsentChannelName = Literal["email", "sms", "push", "social"]


class ConsentChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    purpose: PurposeName
    channel: ConsentChannelName
    granted: bool
    # When the person said so (a paper form signed yesterday); now by default.
    changed_at: datetime | None = None


class ConsentUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    consents: list[ConsentChange] = Field(min_length=1)
    # Where the change came from ("store form", "preference centre"); the key by default.
    source: str | None = Field(default=None, max_length=100)


class ConsentRead(BaseModel):
    purpose: str
    channel: str
    granted: bool
    explicit: bool
    source: str | None
    changed_at: datetime | None


class ConsentList(BaseModel):
    profile_id: UUID
    consents: list[ConsentRead]


class MessageRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    kind: str
    campaign_id: UUID | None
    profile_id: UUID
    cart_id: UUID | None
    channel: str
    recipient: str | None
    template: str
    subject: str | None
    body_text: str | None
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    clicked_at: datetime | None
    opened_at: datetime | None


class MessageList(BaseModel):
    items: list[MessageRead]


class Unsubscribed(BaseModel):
    profile_id: UUID
    purpose: str
    channel: str
    granted: bool = False
