from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import CheckConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from omnikanal.db import Base
from omnikanal.kit.ids import new_id
from omnikanal.kit.time import utcnow


class Location(Base):
    """A store or a warehouse."""

    __tablename__ = "inventory_location"

    code: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))  # store | warehouse
    # {"street": ..., "postal_code": ..., "city": ..., "country": "SE"}
    address: Mapped[dict[str, Any]] = mapped_column(default=dict)
    latitude: Mapped[float]
    longitude: Mapped[float]
    # {"mon": "10:00-19:00", ..., "sun": null}
    opening_hours: Mapped[dict[str, Any]] = mapped_column(default=dict)
    offers_pickup: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)


class Stock(Base):
    """One SKU at one location. available = on_hand - reserved - allocated, never below 0."""

    __tablename__ = "inventory_stock"
    __table_args__ = (
        CheckConstraint("reserved >= 0", name="reserved_not_negative"),
        CheckConstraint("allocated >= 0", name="allocated_not_negative"),
        CheckConstraint("on_hand - reserved - allocated >= 0", name="available_not_negative"),
        Index("ix_inventory_stock_sku", "sku"),
    )

    location: Mapped[str] = mapped_column(String(100), primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), primary_key=True)
    on_hand: Mapped[int] = mapped_column(default=0)
    reserved: Mapped[int] = mapped_column(default=0)
    allocated: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class AdjustmentReason:
    RECEIPT = "receipt"
    COUNT = "count"
    SALE = "sale"
    RETURN = "return"
    TRANSFER_IN = "transfer_in"
    TRANSFER_OUT = "transfer_out"
    DAMAGE = "damage"
    # A level set by an import from another system (a warehouse's stock file).
    IMPORT = "import"

    ALL = (RECEIPT, COUNT, SALE, RETURN, TRANSFER_IN, TRANSFER_OUT, DAMAGE, IMPORT)


class Adjustment(Base):
    """Every change of on-hand stock, with why; on_hand is always their sum."""

    __tablename__ = "inventory_adjustment"
    __table_args__ = (Index("ix_inventory_adjustment_stock", "location", "sku", "created_at"),)

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    location: Mapped[str] = mapped_column(String(100))
    sku: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[int]
    reason: Mapped[str] = mapped_column(String(20))
    reference: Mapped[str | None] = mapped_column(String(200))
    actor: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class HoldKind:
    # Held for a customer who will collect (click-and-collect, order ahead); expires.
    RESERVATION = "reservation"
    # Promised to an order being fulfilled (delivery); does not expire.
    ALLOCATION = "allocation"


class HoldStatus:
    ACTIVE = "active"
    RELEASED = "released"
    EXPIRED = "expired"
    FULFILLED = "fulfilled"


class Hold(Base):
    """Stock set aside: a reservation or an allocation, until fulfilled or let go."""

    __tablename__ = "inventory_hold"
    __table_args__ = (Index("ix_inventory_hold_due", "status", "expires_at"),)

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(20))
    location: Mapped[str] = mapped_column(String(100))
    sku: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[int]
    status: Mapped[str] = mapped_column(String(20), default=HoldStatus.ACTIVE)
    # What it is for: "cart:<id>", "order:<id>".
    reference: Mapped[str | None] = mapped_column(String(200), index=True)
    expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
