from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, UrlConstraints

PurposeName = Literal["transactional", "marketing", "personalisation"]
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

    consents: list[ConsentChange] = Field(min_length=1, max_length=50)
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
    converted_order_id: UUID | None
    converted_at: datetime | None


class MessageList(BaseModel):
    items: list[MessageRead]


class Unsubscribed(BaseModel):
    profile_id: UUID
    purpose: str
    channel: str
    granted: bool = False


class AudienceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    # See omnikanal.marketing.audiences for the rule language; unknown fields are 422.
    rule: dict[str, Any]


class AudienceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    name: str
    rule: dict[str, Any]
    created_at: datetime


class AudienceCount(BaseModel):
    audience_id: UUID
    count: int


class AudienceMembers(BaseModel):
    audience_id: UUID
    profile_ids: list[UUID]


class CampaignCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    audience_id: UUID
    channels: list[Literal["email", "sms", "push"]] = Field(min_length=1, max_length=3)
    subject: str = Field(min_length=1, max_length=300)
    body: str = Field(min_length=1, max_length=5000)
    # "nps": each message carries the person's signed link to answer 0-10.
    survey: Literal["nps"] | None = None
    # Where the message's button leads; the link is tracked, so clicks are counted.
    link_url: Annotated[HttpUrl, UrlConstraints(max_length=2000)] | None = None


class CampaignRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    name: str
    audience_id: UUID
    channels: list[str]
    subject: str
    body: str
    link_url: str | None = None
    status: str
    survey: str | None = None
    created_at: datetime
    sent_at: datetime | None
    # Messages by status, and orders attributed to a click ("converted").
    messages: dict[str, int] = Field(default_factory=dict)


class StockAlertCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    profile_id: UUID
    sku: str = Field(min_length=1, max_length=100)


class StockAlertRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    profile_id: UUID
    sku: str
    status: str
    created_at: datetime
    notified_at: datetime | None


class SurveyAnswerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # How likely you are to recommend us to a friend: 0 (not at all) to 10 (very).
    score: int = Field(ge=0, le=10)
    comment: str | None = Field(default=None, max_length=2000)


class SurveyAnswerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    campaign_id: UUID
    survey: str
    score: int
    comment: str | None
    answered_at: datetime
