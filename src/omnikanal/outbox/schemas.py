from datetime import datetime
from uuid import UUID

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field


class WebhookCreate(BaseModel):
    url: AnyHttpUrl
    description: str = Field(default="", max_length=200)
    event_types: list[str] = Field(
        default_factory=list, description="Event types to send; empty means every event."
    )


class WebhookRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    url: str
    description: str
    event_types: list[str]
    active: bool
    created_at: datetime


class WebhookCreated(WebhookRead):
    secret: str = Field(description="Standard Webhooks signing secret; shown once.")


class DeliveryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    event_id: UUID
    kind: str
    target: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    delivered_at: datetime | None


class DeliveryPage(BaseModel):
    items: list[DeliveryRead]
    next_cursor: str | None = None
