"""Commerce: what every use case shares. Error codes, the domain events, the person behind
a request, and the timeline entries commerce writes.

The use cases live beside this file: ``carts.py`` (carts that follow the person),
``checkout.py`` (placing orders: checkout, till sales, endless aisle), ``orders.py`` (the
order's later steps), ``returns.py`` (returns anywhere, refunds), ``audit.py`` (the price
audit) and ``habits.py`` (what a person's orders say about them).
"""

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar
from uuid import UUID

from sqlalchemy.orm import Session

from omnikanal.auth.models import Channel, Role
from omnikanal.auth.service import StaffActor
from omnikanal.commerce import repository
from omnikanal.customers import service as customers_service
from omnikanal.customers.service import Placement
from omnikanal.errors import Forbidden, RuleViolation
from omnikanal.events import service as events_service
from omnikanal.uow import DomainEvent, per_transaction


class CommerceErrorCode(StrEnum):
    CART_NOT_FOUND = "cart_not_found"
    CART_NOT_ACTIVE = "cart_not_active"
    CART_EMPTY = "cart_empty"
    LINE_NOT_FOUND = "line_not_found"
    IDENTIFIER_REQUIRED = "identifier_required"
    ORDER_NOT_FOUND = "order_not_found"
    CURRENCY_MISMATCH = "currency_mismatch"
    TENDER_MISMATCH = "tender_mismatch"
    PICKUP_NOT_OFFERED = "pickup_not_offered"
    LOCATION_REQUIRED = "location_required"
    NOT_YOUR_LOCATION = "not_your_location"
    CHANNEL_REQUIRED = "channel_required"
    INVALID_TRANSITION = "invalid_transition"
    NOT_RETURNABLE = "not_returnable"
    RETURN_EXCEEDS_PURCHASE = "return_exceeds_purchase"
    NOT_IN_ORDER = "not_in_order"
    INVALID_QUANTITY = "invalid_quantity"
    DUPLICATE_SKU = "duplicate_sku"
    AMOUNT_TOO_LARGE = "amount_too_large"


# -- domain events (payloads are the contract other domains and webhooks read) --


@dataclasses.dataclass(frozen=True)
class CartUpdated(DomainEvent):
    type: ClassVar[str] = "cart.updated"
    cart_id: UUID
    profile_id: UUID
    channel: str
    skus: list[str]


@dataclasses.dataclass(frozen=True)
class CartsMerged(DomainEvent):
    type: ClassVar[str] = "cart.merged"
    cart_id: UUID
    merged_cart_ids: list[UUID]
    profile_id: UUID


@dataclasses.dataclass(frozen=True)
class OrderPlaced(DomainEvent):
    type: ClassVar[str] = "order.placed"
    order_id: UUID
    number: str
    profile_id: UUID | None
    cart_id: UUID | None
    total: dict[str, Any]
    channel: str
    location: str | None
    fulfilment: str
    pickup_location: str | None
    skus: list[str]
    paid_with_points: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class OrderStatusChanged(DomainEvent):
    """Base of the events an order's later steps record, one type per step."""

    order_id: UUID
    number: str
    profile_id: UUID | None
    status: str
    total: dict[str, Any]
    channel: str
    pickup_location: str | None
    email: str | None


class OrderPreparing(OrderStatusChanged):
    type: ClassVar[str] = "order.preparing"


class CustomerArrived(OrderStatusChanged):
    type: ClassVar[str] = "order.customer_arrived"


class OrderReadyForPickup(OrderStatusChanged):
    type: ClassVar[str] = "order.ready_for_pickup"


class OrderCollected(OrderStatusChanged):
    type: ClassVar[str] = "order.collected"


class OrderShipped(OrderStatusChanged):
    type: ClassVar[str] = "order.shipped"


class OrderCancelled(OrderStatusChanged):
    type: ClassVar[str] = "order.cancelled"


@dataclasses.dataclass(frozen=True)
class ReturnReceived(DomainEvent):
    type: ClassVar[str] = "return.received"
    return_id: UUID
    order_id: UUID
    profile_id: UUID | None
    refund: dict[str, Any]
    order_total: dict[str, Any]
    channel: str
    location: str
    lines: list[dict[str, Any]]


@dataclasses.dataclass(frozen=True)
class RefundIssued(DomainEvent):
    type: ClassVar[str] = "refund.issued"
    refund_id: UUID
    order_id: UUID
    return_id: UUID | None
    tender_type: str
    reference: str | None
    amount: dict[str, Any]


def money(amount: int, currency: str) -> dict[str, Any]:
    return {"amount": amount, "currency": currency}


# -- who is acting, for which channel and store --


@dataclass(frozen=True)
class Counter:
    """Where a commerce call happens: the channel it counts for and, for a store, which."""

    channel: str
    location: str | None


def counter_of(actor: StaffActor, *, channel: Channel | None, location: str | None) -> Counter:
    """A key's own channel and store win; admins and agents say which they act for.

    A store key works at its own store only; a channel key bound to a store likewise."""
    if actor.location is not None:
        if location is not None and location != actor.location:
            raise Forbidden(
                CommerceErrorCode.NOT_YOUR_LOCATION,
                f"This key belongs to {actor.location}; it cannot act for {location}.",
            )
        location = actor.location
    chosen = actor.channel or channel
    if chosen is None:
        if actor.role is Role.STORE:
            chosen = Channel.POS
        else:
            raise RuleViolation(
                CommerceErrorCode.CHANNEL_REQUIRED,
                "Say which channel this is for: this key is bound to none.",
                errors=[{"field": "channel", "message": "required for this key"}],
            )
    return Counter(channel=chosen.value, location=location)


def require_store_key(actor: StaffActor, counter: Counter) -> None:
    """A sale at a store (the pos channel, or a store named) is rung up with that store's
    key: a store key or a channel key bound to it (``counter_of`` holds them to it). An
    unbound key, a web shop's say, may not sell at a till; the admin acts for any store."""
    if actor.role is Role.ADMIN or actor.location is not None:
        return
    if counter.channel == Channel.POS or counter.location is not None:
        raise Forbidden(
            CommerceErrorCode.NOT_YOUR_LOCATION,
            f"This key is bound to no store; a {counter.channel} sale"
            + (f" at {counter.location}" if counter.location else "")
            + " needs a key of that store.",
        )


def require_own_location(actor: StaffActor, location: str | None) -> None:
    """Store keys act only for their own store (taking a return, handing over a pickup)."""
    if actor.role is Role.STORE and location != actor.location:
        raise Forbidden(
            CommerceErrorCode.NOT_YOUR_LOCATION,
            f"This key belongs to {actor.location}; this is for {location or 'no store'}.",
        )


# -- the person --


def place_person(
    session: Session,
    *,
    user_id: str | None = None,
    anonymous_id: str | None = None,
    traits: dict[str, Any] | None = None,
    channel: str,
    at: datetime,
) -> Placement | None:
    """The person these identifiers name (linked or created); None when there are none."""
    keys = customers_service.identifiers_for(
        session, user_id=user_id, anonymous_id=anonymous_id, traits=traits or {}
    )
    if not keys:
        return None
    return customers_service.place(session, identifiers=keys, channel=channel, at=at)


# Profile ids already followed to their live profile in this transaction.
_LIVE = per_transaction("commerce.live_profiles")


def live_profile_id(session: Session, profile_id: UUID) -> UUID:
    """The live profile's id; asked once per transaction (a checkout asks three times)."""
    known: dict[UUID, UUID] = session.info.setdefault(_LIVE, {})
    live = known.get(profile_id)
    if live is None:
        live = known[profile_id] = customers_service.live_profile(session, profile_id).id
    return live


def person_family(session: Session, profile_id: UUID) -> list[UUID]:
    """The live profile and those merged into it (live first), remembered as the live
    profile for the rest of the transaction."""
    found = customers_service.family(session, profile_id=profile_id)
    known: dict[UUID, UUID] = session.info.setdefault(_LIVE, {})
    known[profile_id] = known[found[0]] = found[0]
    return found


def activity(
    actor: StaffActor,
    counter: Counter,
    *,
    profile_id: UUID,
    anchor_id: UUID,
    event: str,
    properties: dict[str, Any],
    message_id: str,
    at: datetime,
) -> events_service.Activity:
    """A commerce fact for the live profile's timeline, to record with others at once."""
    return events_service.Activity(
        credential_id=actor.credential_id,
        channel=counter.channel,
        location=counter.location,
        profile_id=profile_id,
        anchor_id=anchor_id,
        event=event,
        properties=properties,
        message_id=message_id,
        at=at,
    )


def on_timeline(
    session: Session,
    *,
    actor: StaffActor,
    counter: Counter,
    profile_id: UUID | None,
    anchor_id: UUID | None,
    event: str,
    properties: dict[str, Any],
    message_id: str,
    at: datetime,
) -> None:
    """Record a commerce fact on the person's timeline (nothing for anonymous sales)."""
    if profile_id is None or anchor_id is None:
        return
    events_service.record_activity(
        session,
        credential_id=actor.credential_id,
        channel=counter.channel,
        location=counter.location,
        profile_id=live_profile_id(session, profile_id),
        anchor_id=anchor_id,
        event=event,
        properties=properties,
        message_id=message_id,
        at=at,
    )


def skus_bought(
    session: Session, *, profile_ids: Sequence[UUID], since: datetime | None = None
) -> set[str]:
    """What these profiles (a person's family) bought, on any channel, since then."""
    return repository.skus_bought_since(session, profile_ids, since=since)
