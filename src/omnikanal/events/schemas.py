"""Segment's HTTP Tracking API messages, and what ingestion and the timeline answer."""

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    InstanceOf,
    StringConstraints,
)
from pydantic_core import PydanticCustomError

MessageType = Literal["identify", "track", "page", "screen", "alias", "group"]
MESSAGE_TYPES: tuple[str, ...] = ("identify", "track", "page", "screen", "alias", "group")

# The columns a message's strings are stored in (events_event, customer_identifier): a
# longer string is the message's own fault, named in its rejection, not a failed batch.
MAX_MESSAGE_ID_LENGTH = 200  # events_event.message_id
MAX_ID_LENGTH = 300  # events_event.user_id, anonymous_id; identifier values
MAX_NAME_LENGTH = 200  # events_event.name (a track event's, a page's or a screen's name)

# The times a client may send (timestamp, sentAt) and an event may be stored at. Wide
# enough for any clock a device has been left at (1970 is an unset clock's epoch, which
# the skew correction repairs), narrow enough that converting to UTC and correcting for
# skew never leave what a datetime holds.
EARLIEST_TIME = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_TIME = datetime(9999, 12, 30, tzinfo=UTC)


def _client_time(moment: datetime) -> datetime:
    """Times without a zone are read as UTC."""
    try:
        in_utc = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError:
        in_utc = None  # year 1 east of Greenwich, or 9999 west of it
    if in_utc is None or not EARLIEST_TIME <= in_utc <= LATEST_TIME:
        raise PydanticCustomError(
            "time_out_of_range",
            f"must be between {EARLIEST_TIME:%Y-%m-%d} and {LATEST_TIME:%Y-%m-%d} (UTC)",
        )
    return in_utc


# A client's time, in UTC (read as UTC without a zone) and within the accepted range.
ClientTime = Annotated[datetime, AfterValidator(_client_time)]

# Segment's clients send ids as strings; numbers are accepted too, as text (the model
# coerces them). Ids are trimmed; a blank one counts as absent.
Id = Annotated[str, StringConstraints(max_length=MAX_ID_LENGTH, strip_whitespace=True)] | None
MessageId = (
    Annotated[str, StringConstraints(max_length=MAX_MESSAGE_ID_LENGTH, strip_whitespace=True)]
    | None
)
Name = Annotated[str, StringConstraints(max_length=MAX_NAME_LENGTH)] | None


# An object, checked but not copied (messages are stored exactly as sent, from the raw JSON).
Document = InstanceOf[dict[str, Any]]


class SegmentMessage(BaseModel):
    """One message of Segment's HTTP Tracking API, as far as omnikanal reads it. The
    message itself is stored as sent, unknown fields included."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, coerce_numbers_to_str=True)

    type: MessageType
    message_id: MessageId = Field(default=None, alias="messageId")
    user_id: Id = Field(default=None, alias="userId")
    anonymous_id: Id = Field(default=None, alias="anonymousId")
    timestamp: ClientTime | None = None
    sent_at: ClientTime | None = Field(default=None, alias="sentAt")
    context: Document | None = None
    traits: Document | None = None
    properties: Document | None = None
    integrations: Document | None = None
    event: Name = None
    name: Name = None
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


def corrected_timestamp(
    timestamp: datetime | None, sent_at: datetime | None, received_at: datetime
) -> datetime | None:
    """Segment's clock-skew correction: receivedAt - (sentAt - timestamp); ``None`` when
    the corrected time would fall outside the accepted range (it never overflows).

    Both times are within the accepted range (``ClientTime``), so their difference is a
    timedelta a datetime can take; it is compared before it is subtracted."""
    if timestamp is None:
        return received_at
    if sent_at is None:
        return timestamp
    skew = sent_at - timestamp
    if not received_at - LATEST_TIME <= skew <= received_at - EARLIEST_TIME:
        return None
    return received_at - skew


def describe_skew(timestamp: datetime, sent_at: datetime) -> str:
    days = abs(sent_at - timestamp) // timedelta(days=1)
    order = "before" if timestamp <= sent_at else "after"
    return (
        f"is {days} days {order} sentAt; corrected for clock skew (receivedAt - "
        f"(sentAt - timestamp)) it falls outside {EARLIEST_TIME:%Y-%m-%d}..{LATEST_TIME:%Y-%m-%d}"
    )


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
