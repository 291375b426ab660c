"""Segment's HTTP Tracking API messages, and what ingestion and the timeline answer."""

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, InstanceOf, StringConstraints

MessageType = Literal["identify", "track", "page", "screen", "alias", "group"]
MESSAGE_TYPES: tuple[str, ...] = ("identify", "track", "page", "screen", "alias", "group")


# Segment's clients send ids as strings; numbers are accepted too, as text (the model
# coerces them). Ids are trimmed; a blank one counts as absent.
Id = Annotated[str, StringConstraints(max_length=300, strip_whitespace=True)] | None


# An object, checked but not copied (messages are stored exactly as sent, from the raw JSON).
Document = InstanceOf[dict[str, Any]]


class SegmentMessage(BaseModel):
    """One message of Segment's HTTP Tracking API, as far as omnikanal reads it. The
    message itself is stored as sent, unknown fields included."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, coerce_numbers_to_str=True)

    type: MessageType
    message_id: Id = Field(default=None, alias="messageId")
    user_id: Id = Field(default=None, alias="userId")
    anonymous_id: Id = Field(default=None, alias="anonymousId")
    timestamp: datetime | None = None
    sent_at: datetime | None = Field(default=None, alias="sentAt")
    context: Document | None = None
    traits: Document | None = None
    properties: Document | None = None
    integrations: Document | None = None
    event: Annotated[str, StringConstraints(max_length=200)] | None = None
    name: Annotated[str, StringConstraints(max_length=200)] | None = None
    previous_id: Id = Field(default=None, alias="previousId")
    group_id: Id = Field(default=None, alias="groupId")

    def missing_fields(self) -> list[tuple[str, str]]:
        """What Segment's spec requires of this type and the message lacks: (field, why)."""
        missing: list[tuple[str, str]] = []
        if self.type == "alias":
            if not self.previous_id:
                missing.append(("previousId", "alias needs the previous id"))
            if not self.user_id:
                missing.append(("userId", "alias needs the new user id"))
        elif not self.user_id and not self.anonymous_id:
            missing.append(("userId", "a message needs a userId or an anonymousId"))
        if self.type == "track" and not (self.event or "").strip():
            missing.append(("event", "track needs the event name"))
        if self.type == "group" and not self.group_id:
            missing.append(("groupId", "group needs the group id"))
        context_traits = (self.context or {}).get("traits")
        if context_traits is not None and not isinstance(context_traits, dict):
            missing.append(("context.traits", "must be an object"))
        return missing

    def user_traits(self) -> dict[str, Any]:
        return person_traits(self.type, self.context, self.traits)

    def display_name(self) -> str | None:
        return self.event if self.type == "track" else self.name


def person_traits(
    type_: str, context: Mapping[str, Any] | None, traits: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Traits of the person: context.traits on every call, plus identify's traits (a
    group call's traits describe the group, not the person)."""
    person = dict((context or {}).get("traits") or {})
    if type_ == "identify":
        person.update(traits or {})
    return person


def utc(moment: datetime | None) -> datetime | None:
    """Times without a zone are read as UTC."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def corrected_timestamp(
    timestamp: datetime | None, sent_at: datetime | None, received_at: datetime
) -> datetime:
    """Segment's clock-skew correction: receivedAt - (sentAt - timestamp)."""
    if timestamp is None:
        return received_at
    if sent_at is None:
        return timestamp
    return received_at - (sent_at - timestamp)


class FieldError(BaseModel):
    field: str
    message: str


class RejectedMessage(BaseModel):
    index: int = Field(description="Position in the batch (0 for a single message).")
    message_id: str | None
    code: str
    reason: str
    errors: list[FieldError] = []


class IngestResponse(BaseModel):
    success: bool = Field(True, description="Segment's clients look for this.")
    received: int = Field(description="Messages in the request.")
    stored: int = Field(description="New messages stored (committed before this answer).")
    duplicates: int = Field(description="Messages whose messageId was already stored.")
    rejected: list[RejectedMessage] = Field(description="Messages not stored, and why.")


class TimelineEntry(BaseModel):
    id: UUID
    kind: Literal["event"] = "event"
    type: str
    name: str | None
    channel: str
    source: str | None = Field(description="The source's name: a store's tills, the app...")
    location: str | None
    timestamp: datetime
    received_at: datetime
    message_id: str
    properties: dict[str, Any]
    traits: dict[str, Any]


class TimelinePage(BaseModel):
    profile_id: UUID
    items: list[TimelineEntry]
    next_cursor: str | None = None
