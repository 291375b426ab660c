from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    Field,
    StringConstraints,
    field_validator,
)

from omnikanal.commerce.schemas import CartLineRead, ReturnLineRead
from omnikanal.conversations.service import MessageChannel
from omnikanal.customers.identity import SOCIAL_TYPES
from omnikanal.customers.schemas import ChannelSeen, IdentifierRead
from omnikanal.kit.money import Money

# A message body: a chat line, an email's text, a call's notes or transcript.
MAX_BODY_BYTES = 20 * 1024


def _within_limit(body: str) -> str:
    size = len(body.encode())
    if size > MAX_BODY_BYTES:
        raise ValueError(f"{size} bytes is more than {MAX_BODY_BYTES}")
    return body


Body = Annotated[
    str,
    StringConstraints(min_length=1, strip_whitespace=True),
    AfterValidator(_within_limit),
    Field(description=f"Text, at most {MAX_BODY_BYTES} bytes (UTF-8)."),
]
IdentifierText = Annotated[
    str, StringConstraints(min_length=1, max_length=300, strip_whitespace=True)
]
Subject = Annotated[str, StringConstraints(max_length=300, strip_whitespace=True)]
StatusName = Literal["open", "pending", "closed"]


# -- requests --


class MessageCreate(BaseModel):
    """A message from any channel, with whatever identifies the sender there."""

    channel: MessageChannel | None = Field(
        default=None,
        description="chat, email, phone or social. Channel keys: their own (may be left out); "
        "agents and admins say which.",
    )
    direction: Literal["inbound", "outbound"] = Field(
        default="inbound", description="inbound: from the customer; outbound: to them."
    )
    anonymous_id: IdentifierText | None = Field(default=None, description="The chat widget's.")
    user_id: IdentifierText | None = None
    email: Annotated[str, StringConstraints(max_length=320)] | None = None
    phone: Annotated[str, StringConstraints(max_length=40)] | None = Field(
        default=None, description="The caller's number, in any spelling."
    )
    loyalty_card: Annotated[str, StringConstraints(max_length=100)] | None = None
    social: dict[str, Annotated[str, StringConstraints(max_length=300)]] = Field(
        default_factory=dict,
        max_length=len(SOCIAL_TYPES),
        description='Handles by network: {"instagram": "@anna"}; networks: '
        + ", ".join(SOCIAL_TYPES)
        + ".",
    )
    body: Body
    subject: Subject | None = None
    external_id: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = Field(
        default=None,
        description="The channel's own message id: the same id on the same channel is stored once.",
    )
    author: Annotated[str, StringConstraints(max_length=200)] | None = Field(
        default=None, description="outbound: who wrote it; default the key's name."
    )
    sent_at: AwareDatetime | None = Field(
        default=None, description="When it was sent on the channel; default now."
    )

    @field_validator("social")
    @classmethod
    def known_networks(cls, social: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(social) - set(SOCIAL_TYPES))
        if unknown:
            raise ValueError(
                f"unknown network {', '.join(unknown)}; known: {', '.join(SOCIAL_TYPES)}"
            )
        return social


class AssignRequest(BaseModel):
    agent: Annotated[str, StringConstraints(min_length=1, max_length=320)] | None = Field(
        description="A staff account's id or email (an active agent or admin); null leaves "
        "the conversation unassigned."
    )


class StatusRequest(BaseModel):
    status: StatusName


class NoteCreate(BaseModel):
    body: Body


class ReplyCreate(BaseModel):
    body: Body
    channel: MessageChannel | None = Field(
        default=None, description="Default: the channel the customer wrote on last."
    )


class CsatCreate(BaseModel):
    score: int = Field(ge=1, le=5, description="1 (very unhappy) to 5 (very happy).")
    comment: Annotated[str, StringConstraints(max_length=1000)] | None = None


# -- responses --


class MessageRead(BaseModel):
    id: UUID
    kind: Literal["message", "note"] = Field(
        description="note: internal, written by an agent, never sent to the customer."
    )
    channel: str | None = Field(description="None for notes.")
    direction: str | None
    subject: str | None
    body: str
    external_id: str | None
    author: str | None
    sent_at: datetime
    received_at: datetime
    delivery_status: Literal["queued", "sent", "failed"] | None = Field(
        default=None,
        description="Agents' replies: queued, sent or failed on their channel; "
        "null for the customer's messages and notes.",
    )
    delivery_error: str | None = Field(
        default=None, description="Why the delivery failed (or its last attempt, while retried)."
    )
    delivered_at: datetime | None = None


class CsatRead(BaseModel):
    score: int
    comment: str | None
    at: datetime


class ConversationSummary(BaseModel):
    id: UUID
    status: str
    profile_id: UUID
    subject: str | None
    channels: list[str] = Field(description="Every channel used, in the order first used.")
    last_channel: str
    preview: str = Field(description="The start of the latest message (not notes).")
    message_count: int
    assignee: str | None = Field(description="The staff account's id it is assigned to.")
    assignee_name: str | None = Field(description="That person's name.")
    opened_at: datetime
    last_activity_at: datetime
    closed_at: datetime | None
    csat: CsatRead | None
    undelivered_replies: int = Field(
        default=0, description="Replies that could not be delivered (since the last one that was)."
    )


class ConversationRead(ConversationSummary):
    messages: list[MessageRead] = Field(
        description="Every channel's messages and the agents' notes, oldest first."
    )


class ConversationPage(BaseModel):
    items: list[ConversationSummary]
    next_cursor: str | None = None


class MessageReceipt(BaseModel):
    """What a channel learns about the message it posted (not the transcript)."""

    conversation_id: UUID
    conversation_status: str
    profile_id: UUID
    new_conversation: bool
    duplicate: bool = Field(description="The channel's external_id was stored before.")
    message: MessageRead
    answers_conversation_id: UUID | None = Field(
        default=None,
        description="Inbound email: the conversation of the reply it answers "
        "(In-Reply-To, References), when it names one of ours.",
    )


class CsatReceipt(BaseModel):
    conversation_id: UUID
    csat: CsatRead


class LoyaltyRead(BaseModel):
    card_number: str
    balance: int
    tier: str
    next_tier: str | None
    points_to_next: int | None


class CustomerRead(BaseModel):
    profile_id: UUID
    name: str | None
    email: str | None
    phone: str | None
    traits: dict[str, Any]
    computed_traits: dict[str, Any] = Field(
        description="From their history: favourite store and products, preferred channel ..."
    )
    identifiers: list[IdentifierRead]
    channels: list[ChannelSeen]
    first_seen: datetime | None
    last_seen: datetime | None
    loyalty: LoyaltyRead | None


class ContextOrderLine(BaseModel):
    sku: str
    name: str
    quantity: int
    returned_quantity: int
    line_total: Money


class ContextReturn(BaseModel):
    id: UUID
    location: str
    channel: str
    reason: str | None
    refund_total: Money
    lines: list[ReturnLineRead]
    created_at: datetime


class ContextOrder(BaseModel):
    id: UUID
    number: str
    status: str
    channel: str
    location: str | None
    fulfilment: str
    pickup_location: str | None = Field(description="Click-and-collect: the store.")
    total: Money
    lines: list[ContextOrderLine]
    returns: list[ContextReturn]
    placed_at: datetime
    ready_at: datetime | None = Field(description="Ready for pickup since.")
    arrived_at: datetime | None = Field(description="The customer said they are at the store.")
    handed_over_at: datetime | None
    cancelled_at: datetime | None


class ContextCart(BaseModel):
    id: UUID
    channel: str
    currency: str
    lines: list[CartLineRead]
    total: Money
    updated_at: datetime


class ConversationContext(BaseModel):
    """Everything an agent needs to continue without asking the customer again."""

    conversation: ConversationRead
    customer: CustomerRead
    orders: list[ContextOrder] = Field(description="The latest orders of every channel.")
    cart: ContextCart | None = Field(description="The person's active cart, priced now.")
    earlier_conversations: list[ConversationSummary]
