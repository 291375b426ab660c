"""Notices owed when commerce says so: the customer is told their order is ready (S5, S9)."""

from uuid import UUID

from sqlalchemy.orm import Session

from omnikanal.customers import service as customers_service
from omnikanal.inventory import service as inventory_service
from omnikanal.notifications import service
from omnikanal.notifications.service import Kind
from omnikanal.outbox.registry import HandlerRegistry, PublishedEvent


def order_ready(session: Session, event: PublishedEvent) -> None:
    """Push to the app it was ordered in, else email: the checkout's address, or the
    person's own. With neither, the notice is recorded as suppressed, with the reason."""
    data = event.payload
    profile_id = UUID(data["profile_id"]) if data.get("profile_id") else None
    email = data.get("email") or (
        customers_service.email_of(session, profile_id=profile_id) if profile_id else None
    )
    suppressed = None
    if data.get("channel") == "app" and profile_id is not None:
        channel, recipient = "push", str(profile_id)
    elif email:
        channel, recipient = "email", str(email)
    else:
        channel, recipient = "email", ""
        suppressed = "no email address: neither the order nor the person has one"
    store = inventory_service.location(session, code=str(data["pickup_location"]))
    service.record(
        session,
        kind=Kind.ORDER_READY,
        reference=f"order:{data['order_id']}",
        profile_id=profile_id,
        channel=channel,
        recipient=recipient,
        subject=f"Order {data['number']} is ready",
        body=f"Your order {data['number']} is ready for pickup at {store.name}.",
        suppressed=suppressed,
    )


def register(registry: HandlerRegistry) -> None:
    registry.subscribe("order.ready_for_pickup", "notifications.order_ready", order_ready)
