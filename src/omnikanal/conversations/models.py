from datetime import datetime
from uuid import UUID

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from omnikanal.db import Base, JSONDocument
from omnikanal.kit.ids import new_id
from omnikanal.kit.time import utcnow


class ConversationStatus:
    OPEN = "open"
    # Waiting for the customer; their next message makes it open again.
    PENDING = "pending"
    # Done for good: the customer's next message starts a new conversation.
    CLOSED = "closed"
    # Joined another open conversation of the same person (profiles merged); see merged_into.
    MERGED = "merged"

    ACTIVE = (OPEN, PENDING)


class MessageKind:
    MESSAGE = "message"
    # Internal: written by an agent for other agents, never sent to the customer.
    NOTE = "note"


class Direction:
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class DeliveryStatus:
    """What became of an agent's reply on its channel (``replies.py``)."""

    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"


class Conversation(Base):
    """A customer's conversation with the retailer, across every channel they used."""

    __tablename__ = "conversation"
    __table_args__ = (
        Index("ix_conversation_profile_status", "profile_id", "status"),
        # The inbox: newest activity first, by status.
        Index("ix_conversation_inbox", "status", "last_activity_at"),
        CheckConstraint("csat_score BETWEEN 1 AND 5", name="csat_score_range"),
        # Retention finds conversations past OMNIKANAL_RETENTION_CONVERSATION_DAYS whose
        # messages are still there (the NULLs) without reading the ones already done.
        Index("ix_conversation_retention", "messages_removed_at", "last_activity_at"),
        # The inbox's "not delivered" list: conversations with a reply that failed.
        Index("ix_conversation_undelivered", "undelivered_replies", "last_activity_at"),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    status: Mapped[str] = mapped_column(String(20), default=ConversationStatus.OPEN)
    # The person when it was opened; a merged-away id still leads to the survivor.
    profile_id: Mapped[UUID]
    # The identifier that placed the first message with its person.
    anchor_id: Mapped[UUID]
    subject: Mapped[str | None] = mapped_column(String(300))
    # Every channel the conversation has used, in the order first used.
    channels: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    last_channel: Mapped[str] = mapped_column(String(20))
    # The start of the latest message the customer can see (not notes), for the inbox.
    preview: Mapped[str] = mapped_column(String(200), default="")
    message_count: Mapped[int] = mapped_column(default=0)
    # The staff account's id (a name as typed, when assigned before staff accounts).
    assignee: Mapped[str | None] = mapped_column(String(200), index=True)
    merged_into: Mapped[UUID | None]
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_activity_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]
    csat_score: Mapped[int | None]
    csat_comment: Mapped[str | None] = mapped_column(String(1000))
    csat_at: Mapped[datetime | None]
    # When retention deleted its messages (and blanked the preview, subject and comment);
    # a new message clears it.
    messages_removed_at: Mapped[datetime | None]
    # Replies whose delivery failed (and none sent after them): shown in the inbox.
    undelivered_replies: Mapped[int] = mapped_column(default=0, server_default=text("0"))


class ConversationMessage(Base):
    """One message in a conversation, on its own channel, or an agent's internal note."""

    __tablename__ = "conversation_message"
    __table_args__ = (
        Index("ix_conversation_message_conversation", "conversation_id", "sent_at"),
        # The channel's own message id: a repeat is stored once.
        UniqueConstraint("channel", "external_id"),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    conversation_id: Mapped[UUID] = mapped_column(ForeignKey("conversation.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10), default=MessageKind.MESSAGE)
    # None for notes.
    channel: Mapped[str | None] = mapped_column(String(20))
    direction: Mapped[str | None] = mapped_column(String(10))
    subject: Mapped[str | None] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    external_id: Mapped[str | None] = mapped_column(String(200))
    # Who wrote it on the retailer's side (agents' replies and notes); from customers, the
    # address an email came from (replies go back to it), else None.
    author: Mapped[str | None] = mapped_column(String(200))
    # The credential that recorded it (a channel back end's or an agent's key).
    recorded_by: Mapped[UUID]
    # When the channel says it was sent (never later than received).
    sent_at: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Agents' replies: queued, sent or failed on their channel (None for everything else).
    delivery_status: Mapped[str | None] = mapped_column(String(20))
    # Why the delivery failed (or why the last attempt did, while it is retried).
    delivery_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None]
