"""Orders of every channel once placed: reading them, and their later steps (ready for
pickup, collected, shipped, cancelled with the money given back). Placing is in
``checkout.py``.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy.orm import Session

from omnikanal.auth.service import StaffActor
from omnikanal.commerce import repository
from omnikanal.commerce.models import (
    Fulfilment,
    Order,
    OrderLine,
    OrderStatus,
    Refund,
    Tender,
)
from omnikanal.commerce.service import (
    CommerceErrorCode,
    CustomerArrived,
    OrderCancelled,
    OrderCollected,
    OrderPreparing,
    OrderReadyForPickup,
    OrderShipped,
    OrderStatusChanged,
    RefundIssued,
    money,
    require_own_location,
)
from omnikanal.customers import service as customers_service
from omnikanal.errors import Conflict, NotFound
from omnikanal.inventory import service as inventory_service
from omnikanal.kit.time import utcnow
from omnikanal.loyalty import service as loyalty_service
from omnikanal.uow import per_transaction, record_event


@dataclass(frozen=True)
class OrderView:
    order: Order
    lines: Sequence[OrderLine]
    tenders: Sequence[Tender]
    refunds: Sequence[Refund]


# Orders placed in this transaction, with the lines and tenders they were made with.
_PLACED = per_transaction("commerce.placed_orders")


def remember_placed(session: Session, view: OrderView) -> None:
    """Keep a just-placed order's parts, so its answer needs no query to read them back."""
    session.info.setdefault(_PLACED, {})[view.order.id] = view


def view_of(session: Session, order: Order) -> OrderView:
    """The order with its lines, tenders and refunds (as placed, when placed just now)."""
    placed: dict[UUID, OrderView] = session.info.get(_PLACED, {})
    view = placed.get(order.id)
    return view if view is not None else views(session, [order])[0]


# -- reading --


def get(session: Session, *, order_id: UUID) -> Order:
    order = repository.get_order(session, order_id)
    if order is None:
        raise NotFound(CommerceErrorCode.ORDER_NOT_FOUND, f"No order {order_id}.")
    return order


def by_number(session: Session, *, number: str) -> Order:
    order = repository.order_by_number(session, number.strip().upper())
    if order is None:
        raise NotFound(CommerceErrorCode.ORDER_NOT_FOUND, f"No order number {number!r}.")
    return order


def views(session: Session, orders: Sequence[Order]) -> list[OrderView]:
    ids = [order.id for order in orders]
    lines = repository.order_lines(session, ids)
    paid = repository.tenders(session, ids)
    refunds = repository.refunds_of(session, ids)
    return [
        OrderView(
            order=order,
            lines=[line for line in lines if line.order_id == order.id],
            tenders=[t for t in paid if t.order_id == order.id],
            refunds=[r for r in refunds if r.order_id == order.id],
        )
        for order in orders
    ]


def of_person(
    session: Session, *, profile_id: UUID, before: tuple[datetime, UUID] | None, limit: int
) -> tuple[UUID, Sequence[Order]]:
    """The person's orders of every channel, newest first (merged-away profiles included)."""
    live = customers_service.live_profile(session, profile_id).id
    family = [live, *customers_service.merged_descendants(session, live)]
    return live, repository.orders_of(session, family, before=before, limit=limit)


# -- the order's later steps --


def start_preparing(session: Session, *, actor: StaffActor, order_id: UUID) -> Order:
    """The pickup store has started on an order ahead (the barista took it)."""
    order = get(session, order_id=order_id)
    require_own_location(actor, order.pickup_location)
    _move(
        session,
        order,
        to=OrderStatus.PREPARING,
        allowed_from=[OrderStatus.PLACED],
        fulfilment=Fulfilment.CLICK_AND_COLLECT,
    )
    _status_event(session, OrderPreparing, order)
    return order


def arrived(session: Session, *, actor: StaffActor, order_id: UUID) -> Order:
    """The customer is at the store (said in the app, or to staff): first in the queue."""
    order = get(session, order_id=order_id)
    require_own_location(actor, order.pickup_location)
    if order.fulfilment != Fulfilment.CLICK_AND_COLLECT:
        raise Conflict(
            CommerceErrorCode.INVALID_TRANSITION,
            f"Order {order.number} is for {order.fulfilment}; nobody collects it.",
        )
    if order.status not in OrderStatus.AWAITING_PICKUP:
        raise Conflict(
            CommerceErrorCode.INVALID_TRANSITION,
            f"Order {order.number} is {order.status}; it is not waiting for the customer.",
        )
    if order.arrived_at is None:
        order.arrived_at = utcnow()
        session.flush()
        _status_event(session, CustomerArrived, order)
    return order


def pickup_queue(session: Session, *, actor: StaffActor, location: str) -> Sequence[Order]:
    """A store's orders waiting for pickup: arrived customers first, then oldest first."""
    require_own_location(actor, location)
    return repository.pickup_queue(session, location, statuses=OrderStatus.AWAITING_PICKUP)


def mark_ready(session: Session, *, actor: StaffActor, order_id: UUID) -> Order:
    """The pickup store has the order ready; the customer is told (order.ready_for_pickup)."""
    order = get(session, order_id=order_id)
    require_own_location(actor, order.pickup_location)
    _move(
        session,
        order,
        to=OrderStatus.READY_FOR_PICKUP,
        allowed_from=[OrderStatus.PLACED, OrderStatus.PREPARING],
        fulfilment=Fulfilment.CLICK_AND_COLLECT,
        ready_at=utcnow(),
    )
    _status_event(session, OrderReadyForPickup, order)
    return order


def collect(session: Session, *, actor: StaffActor, order_id: UUID) -> Order:
    """Handed over at the pickup store's till: the reserved units leave the stock."""
    order = get(session, order_id=order_id)
    require_own_location(actor, order.pickup_location)
    _move(
        session,
        order,
        to=OrderStatus.COLLECTED,
        allowed_from=OrderStatus.AWAITING_PICKUP,
        fulfilment=Fulfilment.CLICK_AND_COLLECT,
        handed_over_at=utcnow(),
    )
    _fulfil_holds(session, order)
    _status_event(session, OrderCollected, order)
    return order


def ship(session: Session, *, actor: StaffActor, order_id: UUID) -> Order:
    """Sent to the customer: the allocated units leave the stock where they were. A store
    key ships only what its own store holds (ship from store)."""
    order = get(session, order_id=order_id)
    for location in sorted(
        {line.stock_location for line in repository.order_lines(session, [order.id])}
    ):
        require_own_location(actor, location)
    _move(
        session,
        order,
        to=OrderStatus.SHIPPED,
        allowed_from=[OrderStatus.PLACED],
        fulfilment=Fulfilment.DELIVERY,
        handed_over_at=utcnow(),
    )
    _fulfil_holds(session, order)
    _status_event(session, OrderShipped, order)
    return order


def cancel(session: Session, *, actor: StaffActor, order_id: UUID) -> Order:
    """Called off before it was handed over: stock given back, every tender refunded."""
    order = get(session, order_id=order_id)
    require_own_location(actor, order.pickup_location or order.location)
    _call_off(session, order)
    return order


def cancel_uncollected(session: Session, *, older_than: timedelta, limit: int = 200) -> int:
    """Pickups nobody came for within the pickup window are called off: the store's
    reserved stock goes back on sale and the customer is refunded (worker job)."""
    due = repository.uncollected(session, placed_before=utcnow() - older_than, limit=limit)
    for order in due:
        _call_off(session, order)
    return len(due)


def _call_off(session: Session, order: Order) -> None:
    _move(
        session,
        order,
        to=OrderStatus.CANCELLED,
        allowed_from=OrderStatus.AWAITING_PICKUP,
        fulfilment=None,
        cancelled_at=utcnow(),
    )
    for line in repository.order_lines(session, [order.id]):
        if line.hold_id is not None:
            inventory_service.release(session, hold_id=line.hold_id)
    for tender in repository.tenders(session, [order.id]):
        refund_tender(
            session,
            order=order,
            tender=tender,
            amount=tender.amount - tender.refunded,
            return_id=None,
        )
    _status_event(session, OrderCancelled, order)


def refund_tender(
    session: Session, *, order: Order, tender: Tender, amount: int, return_id: UUID | None
) -> Refund | None:
    """Money back to one of the order's tenders, recorded (no payment provider)."""
    if amount <= 0:
        return None
    if not repository.add_refunded(session, tender.id, amount):
        raise Conflict(
            CommerceErrorCode.TENDER_MISMATCH,
            f"Tender {tender.id} has less than {amount} left to refund.",
        )
    refund = Refund(
        order_id=order.id,
        return_id=return_id,
        tender_id=tender.id,
        tender_type=tender.type,
        reference=tender.reference,
        amount=amount,
    )
    session.add(refund)
    session.flush()
    if tender.points and order.profile_id is not None:
        loyalty_service.refund_redemption(
            session,
            profile_id=order.profile_id,
            points=tender.points * amount // tender.amount,
            reference=f"refund-{refund.id}",
            channel=order.channel,
            location=order.location,
        )
    record_event(
        session,
        RefundIssued(
            refund_id=refund.id,
            order_id=order.id,
            return_id=return_id,
            tender_type=tender.type,
            reference=tender.reference,
            amount=money(amount, order.currency),
        ),
    )
    return refund


def _move(
    session: Session,
    order: Order,
    *,
    to: str,
    allowed_from: Sequence[str],
    fulfilment: str | None,
    **values: Any,
) -> None:
    if fulfilment is not None and order.fulfilment != fulfilment:
        raise Conflict(
            CommerceErrorCode.INVALID_TRANSITION,
            f"Order {order.number} is for {order.fulfilment}; it cannot become {to}.",
        )
    if not repository.move_order(session, order.id, to=to, allowed_from=allowed_from, **values):
        current = repository.get_order(session, order.id)
        raise Conflict(
            CommerceErrorCode.INVALID_TRANSITION,
            f"Order {order.number} is {current.status if current else 'gone'}; it cannot "
            f"become {to}.",
        )
    session.refresh(order)


def _fulfil_holds(session: Session, order: Order) -> None:
    for line in sorted(repository.order_lines(session, [order.id]), key=lambda line: line.sku):
        if line.hold_id is not None:
            inventory_service.fulfil(session, hold_id=line.hold_id, reference=f"order:{order.id}")


def _status_event(session: Session, event_type: type[OrderStatusChanged], order: Order) -> None:
    record_event(
        session,
        event_type(
            order_id=order.id,
            number=order.number,
            profile_id=order.profile_id,
            status=order.status,
            total=money(order.total, order.currency),
            channel=order.channel,
            pickup_location=order.pickup_location,
            email=order.email,
        ),
    )
