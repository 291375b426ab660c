from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from omnikanal.db import Base
from omnikanal.kit.ids import new_id
from omnikanal.kit.time import utcnow


class CartStatus:
    ACTIVE = "active"
    CHECKED_OUT = "checked_out"
    # Joined another cart of the same person; ``merged_into`` says which.
    MERGED = "merged"


class Cart(Base):
    """A person's cart: one active cart per person, whichever device they are on."""

    __tablename__ = "commerce_cart"
    __table_args__ = (Index("ix_commerce_cart_profile_status", "profile_id", "status"),)

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    status: Mapped[str] = mapped_column(String(20), default=CartStatus.ACTIVE)
    # The person when the cart was made; a merged-away id still leads to the survivor.
    profile_id: Mapped[UUID]
    # The identifier that placed the cart with its person (moves back on an unmerge).
    anchor_id: Mapped[UUID]
    channel: Mapped[str] = mapped_column(String(20))
    currency: Mapped[str] = mapped_column(String(3))
    merged_into: Mapped[UUID | None]
    order_id: Mapped[UUID | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class CartLine(Base):
    __tablename__ = "commerce_cart_line"
    __table_args__ = (
        UniqueConstraint("cart_id", "sku"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    cart_id: Mapped[UUID] = mapped_column(ForeignKey("commerce_cart.id", ondelete="CASCADE"))
    sku: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[int]
    # The unit price when the line was last added to: a later change is shown to the buyer.
    unit_price_when_added: Mapped[int]
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class OrderStatus:
    PLACED = "placed"
    # Order ahead (S9): the store has started on it.
    PREPARING = "preparing"
    READY_FOR_PICKUP = "ready_for_pickup"
    COLLECTED = "collected"
    SHIPPED = "shipped"
    # Sold over the counter: paid and taken at once.
    COMPLETED = "completed"
    CANCELLED = "cancelled"

    # Goods have left the stock: what may be returned.
    HANDED_OVER = (COLLECTED, SHIPPED, COMPLETED)
    # Waiting at the pickup store: the store's queue, and what may still be cancelled.
    AWAITING_PICKUP = (PLACED, PREPARING, READY_FOR_PICKUP)


class Fulfilment:
    IN_STORE = "in_store"
    DELIVERY = "delivery"
    CLICK_AND_COLLECT = "click_and_collect"


class Order(Base):
    """An order of any channel: web and app checkouts, till sales, endless-aisle orders."""

    __tablename__ = "commerce_order"
    __table_args__ = (
        Index("ix_commerce_order_profile_placed", "profile_id", "placed_at"),
        Index("ix_commerce_order_pickup_queue", "pickup_location", "status"),
        # An imported order is found again by its natural key: the channel's own number
        # for it (external_reference) on that channel; importing it twice cannot make two.
        Index(
            "uq_commerce_order_imported_reference",
            "channel",
            "external_reference",
            unique=True,
            sqlite_where=text("imported_at IS NOT NULL"),
            postgresql_where=text("imported_at IS NOT NULL"),
        ),
        # An import's end finds the orders it made or extended by when it wrote them
        # (updated_at), among imported orders only: not by a scan of every order.
        Index(
            "ix_commerce_order_imported_updated",
            "updated_at",
            sqlite_where=text("imported_at IS NOT NULL"),
            postgresql_where=text("imported_at IS NOT NULL"),
        ),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    status: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(20))
    # The store an order was taken in (tills, endless aisle).
    location: Mapped[str | None] = mapped_column(String(100))
    # The credential that placed it (a channel back end's or a store's key).
    placed_by: Mapped[UUID]
    profile_id: Mapped[UUID | None]
    anchor_id: Mapped[UUID | None]
    cart_id: Mapped[UUID | None] = mapped_column(unique=True)
    currency: Mapped[str] = mapped_column(String(3))
    total: Mapped[int]
    vat_total: Mapped[int]
    fulfilment: Mapped[str] = mapped_column(String(20))
    pickup_location: Mapped[str | None] = mapped_column(String(100))
    delivery_address: Mapped[dict[str, Any] | None]
    email: Mapped[str | None] = mapped_column(String(320))
    # The channel's own number for it (a till receipt, the web shop's order id).
    external_reference: Mapped[str | None] = mapped_column(String(100))
    placed_at: Mapped[datetime] = mapped_column(default=utcnow)
    ready_at: Mapped[datetime | None]
    # The customer said they are at the store (order ahead): first in the store's queue.
    arrived_at: Mapped[datetime | None]
    handed_over_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set on orders imported as history (commerce/history.py): when they were imported.
    # Such an order happened before the hub knew of it and caused no reaction.
    imported_at: Mapped[datetime | None]


class OrderLine(Base):
    __tablename__ = "commerce_order_line"
    __table_args__ = (
        Index("ix_commerce_order_line_order", "order_id"),
        # The price audit reads lines by time and channel.
        Index("ix_commerce_order_line_audit", "placed_at", "channel"),
        CheckConstraint("returned_quantity <= quantity", name="returned_within_bought"),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    order_id: Mapped[UUID] = mapped_column(ForeignKey("commerce_order.id", ondelete="CASCADE"))
    position: Mapped[int]
    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[int]
    # What the price book said for one unit on this channel at placement (promotion in).
    book_unit_price: Mapped[int]
    # What the channel charged for one unit: the book price, unless a till said otherwise.
    unit_price: Mapped[int]
    list_price: Mapped[int]
    promotion_code: Mapped[str | None] = mapped_column(String(64))
    vat_rate_bp: Mapped[int]
    line_total: Mapped[int]
    vat_amount: Mapped[int]
    # Where the units come from, and the stock hold taken for them (None: sold at the till).
    stock_location: Mapped[str] = mapped_column(String(100))
    hold_id: Mapped[UUID | None]
    returned_quantity: Mapped[int] = mapped_column(default=0)
    # Copied from the order for the price audit.
    channel: Mapped[str] = mapped_column(String(20))
    currency: Mapped[str] = mapped_column(String(3))
    placed_at: Mapped[datetime]


class TenderType:
    CARD = "card"
    GIFT_CARD = "gift_card"
    CASH = "cash"
    LOYALTY_POINTS = "loyalty_points"
    ALL = (CARD, GIFT_CARD, CASH, LOYALTY_POINTS)


class Tender(Base):
    """How an order was paid: a card token, a gift card, cash. Refunds go back to these."""

    __tablename__ = "commerce_tender"
    __table_args__ = (
        CheckConstraint("refunded <= amount", name="refund_within_paid"),
        Index("ix_commerce_tender_order", "order_id"),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    order_id: Mapped[UUID] = mapped_column(ForeignKey("commerce_order.id", ondelete="CASCADE"))
    position: Mapped[int]
    type: Mapped[str] = mapped_column(String(20))
    reference: Mapped[str | None] = mapped_column(String(200))
    amount: Mapped[int]
    # Loyalty points spent (loyalty_points tenders): refunds give them back pro rata.
    points: Mapped[int | None]
    refunded: Mapped[int] = mapped_column(default=0)


class Return(Base):
    """Goods of an order brought back, at a store or by post (to a warehouse)."""

    __tablename__ = "commerce_return"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    order_id: Mapped[UUID] = mapped_column(ForeignKey("commerce_order.id"), index=True)
    location: Mapped[str] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(20))
    received_by: Mapped[UUID]
    reason: Mapped[str | None] = mapped_column(String(500))
    refund_total: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReturnLine(Base):
    __tablename__ = "commerce_return_line"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    return_id: Mapped[UUID] = mapped_column(
        ForeignKey("commerce_return.id", ondelete="CASCADE"), index=True
    )
    order_line_id: Mapped[UUID]
    sku: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[int]
    refund_amount: Mapped[int]


class Refund(Base):
    """Money given back to one of the order's tenders (recorded; no payment provider)."""

    __tablename__ = "commerce_refund"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    order_id: Mapped[UUID] = mapped_column(ForeignKey("commerce_order.id"), index=True)
    return_id: Mapped[UUID | None]
    tender_id: Mapped[UUID]
    tender_type: Mapped[str] = mapped_column(String(20))
    reference: Mapped[str | None] = mapped_column(String(200))
    amount: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
