from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from omnikanal.db import Base, JSONDocument
from omnikanal.kit.ids import new_id
from omnikanal.kit.time import utcnow


class Profile(Base):
    """One person. A merged-away profile keeps its row, pointing at the profile it joined."""

    __tablename__ = "customer_profile"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    # The profile this one was merged into (direct parent; follow it to the survivor).
    merged_into: Mapped[UUID | None] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    first_seen: Mapped[datetime | None]
    last_seen: Mapped[datetime | None]
    # {"name": value}; latest value wins by event time, kept in trait_times.
    traits: Mapped[dict[str, Any]] = mapped_column(default=dict)
    trait_times: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # {"web": {"first_seen": iso, "last_seen": iso, "events": n}, ...}
    channels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Derived from the person's history by other domains (favourite store, usual order
    # time ...), each key owned by the domain that computes it.
    computed_traits: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")


class Identifier(Base):
    """An identifier (type and value) and the one profile it belongs to now."""

    __tablename__ = "customer_identifier"
    __table_args__ = (UniqueConstraint("type", "value"),)

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    type: Mapped[str] = mapped_column(String(40))
    value: Mapped[str] = mapped_column(String(320))
    profile_id: Mapped[UUID] = mapped_column(index=True)
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The message that brought it (Segment messageId), when one did.
    added_by_message: Mapped[str | None] = mapped_column(String(200))


class MergeAction:
    MERGED = "merged"
    DEVICE_MOVED = "device_moved"
    MERGE_REFUSED = "merge_refused"
    UNMERGED = "unmerged"


class MergeLogEntry(Base):
    """Why the graph changed: each merge, device move, refused merge and unmerge."""

    __tablename__ = "customer_merge_log"
    __table_args__ = (
        Index("ix_customer_merge_log_profile", "profile_id", "created_at"),
        Index("ix_customer_merge_log_other", "other_profile_id"),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    action: Mapped[str] = mapped_column(String(20))
    # The profile that survived (merged), gained the device, or was split (unmerged).
    profile_id: Mapped[UUID]
    # The profile merged away, that lost the device, or was restored by an unmerge.
    other_profile_id: Mapped[UUID]
    # The rule that decided, in words an agent can read.
    rule: Mapped[str] = mapped_column(String(500))
    # The message's identifiers that linked (or would have linked) the two profiles.
    linking: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument, default=list)
    # For merges: the identifier ids the merged profile brought (what an unmerge returns).
    moved_identifier_ids: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    message_id: Mapped[str | None] = mapped_column(String(200))
    source_id: Mapped[UUID | None]
    channel: Mapped[str | None] = mapped_column(String(20))
    actor: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    unmerged_at: Mapped[datetime | None]


class SuggestionStatus:
    OPEN = "open"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class DuplicateSuggestion(Base):
    """Two profiles that are probably one person though no identifier joins them (record
    linkage over names, birth date, address, phone and email). Never merged by itself: an
    agent accepts (a merge) or rejects it (remembered: the pair is not suggested again)."""

    __tablename__ = "customer_duplicate_suggestion"
    __table_args__ = (
        # One row per pair, in a canonical order (the smaller id first).
        UniqueConstraint("profile_id", "other_profile_id"),
        Index("ix_customer_duplicate_suggestion_status", "status", "probability"),
        Index("ix_customer_duplicate_suggestion_other", "other_profile_id"),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    profile_id: Mapped[UUID]
    other_profile_id: Mapped[UUID]
    probability: Mapped[float]
    # Log2 of the Bayes factor: how much the evidence moved the odds.
    weight: Mapped[float]
    # {"first_name": "fuzzy", "postcode": "exact", ...}: the fields that agreed, and how.
    agreed: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(20), default=SuggestionStatus.OPEN)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None]
    # The merge an accepted suggestion made (in the merge log).
    merge_id: Mapped[UUID | None]
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)
