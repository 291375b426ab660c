from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import BigInteger, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from omnikanal.db import Base
from omnikanal.kit.ids import new_id


class Event(Base):
    """One message from a channel, stored as sent, with who it belongs to.

    Append-only; time-ordered ids so inserts append (see DESIGN.md). ``profile_id`` is
    the only column that changes: when profiles merge, and back when they are unmerged.
    """

    __tablename__ = "events_event"
    __table_args__ = (
        # A repeated messageId from the same source is stored once.
        UniqueConstraint("source_id", "message_id"),
        Index("ix_events_event_profile_time", "profile_id", "timestamp"),
        # Retention deletes the oldest events (OMNIKANAL_RETENTION_EVENT_DAYS); timestamps
        # arrive nearly in order, so this index grows at its end like the primary key.
        Index("ix_events_event_timestamp", "timestamp"),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    source_id: Mapped[UUID]
    channel: Mapped[str] = mapped_column(String(20))
    location: Mapped[str | None] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(10))
    # The track event's name, or the page or screen name.
    name: Mapped[str | None] = mapped_column(String(200))
    message_id: Mapped[str] = mapped_column(String(200))
    profile_id: Mapped[UUID]
    # The identifier that placed the event with its profile (see customers.identity).
    anchor_id: Mapped[UUID]
    user_id: Mapped[str | None] = mapped_column(String(300))
    anonymous_id: Mapped[str | None] = mapped_column(String(300))
    # The client's time corrected for clock skew, as Segment does.
    timestamp: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    received_at: Mapped[datetime]
    # The message exactly as the channel sent it.
    message: Mapped[dict[str, Any]]


class InboxMessage(Base):
    """A message acknowledged to its channel and not yet placed with its person.

    Ingestion appends here and answers (the durable append); the resolver takes rows in
    position order, stores each as an ``Event`` with its person and deletes it, in one
    transaction. So "resolved through position P" is "no row at or below P is left", which
    holds even when concurrent appenders commit out of position order. AUTOINCREMENT on
    SQLite: positions are never reused, even after the inbox empties.
    """

    __tablename__ = "events_inbox"
    __table_args__ = (
        # A repeated messageId from the same source is appended once.
        UniqueConstraint("source_id", "message_id"),
        {"sqlite_autoincrement": True},
    )

    position: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    source_id: Mapped[UUID]
    channel: Mapped[str] = mapped_column(String(20))
    location: Mapped[str | None] = mapped_column(String(100))
    message_id: Mapped[str] = mapped_column(String(200))
    # The client's time corrected for clock skew, computed when the message arrived.
    seen_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    received_at: Mapped[datetime]
    # The message exactly as the channel sent it.
    message: Mapped[dict[str, Any]]


class ResolverLease(Base):
    """Which process resolves appended messages: one per database at a time.

    The holder renews ``locked_until`` in each batch's transaction; once it lapses (the
    holder died or stopped), another process takes the lease over.
    """

    __tablename__ = "events_resolver_lease"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    locked_until: Mapped[datetime]
