from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from omnikanal.db import Base
from omnikanal.kit.ids import new_id
from omnikanal.kit.time import utcnow


class OutboxEvent(Base):
    """One domain event, written in the transaction that caused it."""

    __tablename__ = "outbox_event"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    type: Mapped[str] = mapped_column(String(100), index=True)
    payload: Mapped[dict[str, Any]]
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)


class DeliveryStatus:
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class DeliveryKind:
    HANDLER = "handler"
    WEBHOOK = "webhook"
    NATS = "nats"


class OutboxDelivery(Base):
    """One event to one target (an in-process handler, a webhook endpoint, NATS)."""

    __tablename__ = "outbox_delivery"
    __table_args__ = (
        UniqueConstraint("event_id", "kind", "target"),
        Index("ix_outbox_delivery_due", "status", "next_attempt_at"),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    event_id: Mapped[UUID] = mapped_column(ForeignKey("outbox_event.id", ondelete="CASCADE"))
    # Never loaded; it tells the unit of work to insert the event before its deliveries.
    event: Mapped[OutboxEvent] = relationship(lazy="raise")
    kind: Mapped[str] = mapped_column(String(20))
    target: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    locked_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None]


class WebhookEndpoint(Base):
    __tablename__ = "outbox_webhook_endpoint"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(String(200), default="")
    # Standard Webhooks secret ("whsec_" + base64); kept because every delivery is signed.
    secret: Mapped[str] = mapped_column(String(100))
    event_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
