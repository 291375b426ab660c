from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from omnikanal.db import Base, JSONDocument
from omnikanal.kit.ids import new_id
from omnikanal.kit.time import utcnow


class LoyaltyProgram(Base):
    """The program's rules. One row; changed by an admin."""

    __tablename__ = "loyalty_program"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    # Points earned per whole currency unit spent, by currency: {"SEK": 1, "DKK": 1}.
    points_per_unit: Mapped[dict[str, Any]]
    # What one point is worth as a tender, in minor units, by currency: {"SEK": 10}.
    point_value_minor: Mapped[dict[str, Any]]
    # [{"name": "Silver", "threshold": 0}, {"name": "Gold", "threshold": 5000}, ...]
    tiers: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument)
    tier_window_days: Mapped[int] = mapped_column(default=365)
    points_expire_after_days: Mapped[int | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class LoyaltyMember(Base):
    __tablename__ = "loyalty_member"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    # The customer profile (customers domain); no foreign key across domains.
    profile_id: Mapped[UUID] = mapped_column(unique=True)
    card_number: Mapped[str] = mapped_column(String(32), unique=True)
    joined_at: Mapped[datetime] = mapped_column(default=utcnow)
    joined_channel: Mapped[str | None] = mapped_column(String(20))


class LedgerReason:
    EARN = "earn"
    REVERSE = "reverse"
    REDEEM = "redeem"
    REFUND_REDEMPTION = "refund_redemption"
    EXPIRE = "expire"
    ADJUST = "adjust"


class LoyaltyLedgerEntry(Base):
    """One append-only change of a member's points; the balance is their sum."""

    __tablename__ = "loyalty_ledger_entry"
    __table_args__ = (
        # An order earns once, a return reverses once, a redemption is made once.
        UniqueConstraint("profile_id", "reason", "reference"),
        Index("ix_loyalty_ledger_entry_profile", "profile_id", "created_at"),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    profile_id: Mapped[UUID]
    points: Mapped[int]
    reason: Mapped[str] = mapped_column(String(30))
    # What caused it: "order:<id>", "return:<id>", "redemption:<id>", "expiry:<date>".
    reference: Mapped[str] = mapped_column(String(200))
    # The order that earned the points, on earn and reverse entries.
    order_id: Mapped[str | None] = mapped_column(String(100), index=True)
    channel: Mapped[str | None] = mapped_column(String(20))
    location: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str] = mapped_column(String(500), default="")
    # For earned points: when they lapse (FIFO against later spending).
    expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LoyaltyReward(Base):
    __tablename__ = "loyalty_reward"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(50), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    points_cost: Mapped[int]
    active: Mapped[bool] = mapped_column(default=True)
