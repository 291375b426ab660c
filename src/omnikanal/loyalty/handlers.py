"""Loyalty reacts to commerce: points for orders of every channel, reversal on returns.

Payload contract (written by commerce):
- ``order.placed``: order_id, profile_id (or null), total {amount, currency}, channel, location,
  paid_with_points {amount, currency} (no points are earned on what points paid)
- ``return.received``: return_id, order_id, profile_id, refund {amount, currency},
  order_total {amount, currency}, channel, location
- ``order.cancelled``: order_id, profile_id (or null), total {amount, currency}, channel,
  pickup_location
"""

from datetime import timedelta
from uuid import UUID

from sqlalchemy.orm import Session

from omnikanal.loyalty import service
from omnikanal.outbox.registry import HandlerRegistry, PublishedEvent


def earn_points(session: Session, event: PublishedEvent) -> None:
    data = event.payload
    if not data.get("profile_id"):
        return
    paid_with_points = data.get("paid_with_points") or {"amount": 0}
    service.earn_for_order(
        session,
        profile_id=UUID(data["profile_id"]),
        order_id=str(data["order_id"]),
        amount_minor=int(data["total"]["amount"]) - int(paid_with_points["amount"]),
        currency=str(data["total"]["currency"]),
        channel=data.get("channel"),
        location=data.get("location"),
    )


def reverse_points(session: Session, event: PublishedEvent) -> None:
    data = event.payload
    if not data.get("profile_id"):
        return
    service.reverse_for_return(
        session,
        profile_id=UUID(data["profile_id"]),
        order_id=str(data["order_id"]),
        return_id=str(data["return_id"]),
        refunded_minor=int(data["refund"]["amount"]),
        order_total_minor=int(data["order_total"]["amount"]),
        channel=data.get("channel"),
        location=data.get("location"),
    )


def reverse_on_cancel(session: Session, event: PublishedEvent) -> None:
    """A cancelled order earns nothing: all its points go back, as for a full return."""
    data = event.payload
    if not data.get("profile_id"):
        return
    total = int(data["total"]["amount"])
    service.reverse_for_return(
        session,
        profile_id=UUID(data["profile_id"]),
        order_id=str(data["order_id"]),
        return_id=f"cancellation-{data['order_id']}",
        refunded_minor=total,
        order_total_minor=total,
        channel=data.get("channel"),
        location=data.get("pickup_location"),
    )


def expire_points(session: Session) -> None:
    service.expire_all(session)


def register(registry: HandlerRegistry) -> None:
    registry.subscribe("order.placed", "loyalty.earn_points", earn_points)
    registry.subscribe("return.received", "loyalty.reverse_points", reverse_points)
    registry.subscribe("order.cancelled", "loyalty.reverse_on_cancel", reverse_on_cancel)
    registry.every("loyalty.expire_points", timedelta(hours=1), expire_points)
