from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, AnyHttpUrl, BaseModel, ConfigDict, Field, StringConstraints

MAX_URL_LENGTH = 2000  # outbox_webhook_endpoint.url


def _storable_url(url: AnyHttpUrl) -> AnyHttpUrl:
    # Measured as stored: normalising (punycode, a trailing slash) can lengthen it.
    if len(str(url)) > MAX_URL_LENGTH:
        raise ValueError(f"URL should have at most {MAX_URL_LENGTH} characters")
    return url


class WebhookCreate(BaseModel):
    url: Annotated[AnyHttpUrl, AfterValidator(_storable_url)]
    description: str = Field(default="", max_length=200)
    # An event type is at most as long as outbox_event.type.
    event_types: list[Annotated[str, StringConstraints(min_length=1, max_length=100)]] = Field(
        default_factory=list,
        max_length=200,
        description="Event types to send; empty means every event.",
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
