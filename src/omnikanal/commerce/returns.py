"""Returns anywhere (S6): any order, received at any store or by post at a warehouse.

Units go back into stock where they were received; the money goes back to the order's
own tenders, in the order they were given; loyalty reverses its points on
``return.received``. Quantities are checked against what was bought and not yet
returned with a conditional update, so two tills taking the same return at once cannot
both succeed.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy.orm import Session

from omnikanal.auth.service import StaffActor
from omnikanal.commerce import orders, repository
from omnikanal.commerce.models import Order, OrderLine, OrderStatus, Return, ReturnLine
from omnikanal.commerce.service import (
    CommerceErrorCode,
    Counter,
    ReturnReceived,
    money,
    on_timeline,
)
from omnikanal.errors import Conflict, RuleViolation
from omnikanal.inventory import service as inventory_service
from omnikanal.inventory.models import AdjustmentReason
from omnikanal.kit.time import utcnow
from omnikanal.uow import record_event


@dataclass(frozen=True)
class ReturnRequest:
    sku: str
    quantity: int


@dataclass(frozen=True)
class ReturnView:
    received: Return
    lines: Sequence[ReturnLine]
    order: Order


def receive(
    session: Session,
    *,
    actor: StaffActor,
    counter: Counter,
    order_id: UUID,
    items: Sequence[ReturnRequest],
    reason: str | None,
) -> ReturnView:
    order = orders.get(session, order_id=order_id)
    if order.status not in OrderStatus.HANDED_OVER:
        raise Conflict(
            CommerceErrorCode.NOT_RETURNABLE,
            f"Order {order.number} is {order.status}: nothing has been handed over to return"
            + (" (cancel it instead)." if order.status != OrderStatus.CANCELLED else "."),
        )
    if counter.location is None:
        raise RuleViolation(
            CommerceErrorCode.LOCATION_REQUIRED,
            "Say where the goods came back: a store, or the warehouse for returns by post.",
            errors=[{"field": "location", "message": "required"}],
        )
    location = inventory_service.location(session, code=counter.location).code
    lines = repository.order_lines(session, [order.id])
    now = utcnow()
    received = Return(
        order_id=order.id,
        location=location,
        channel=counter.channel,
        received_by=actor.credential_id,
        reason=reason,
        refund_total=0,
        currency=order.currency,
        created_at=now,
    )
    session.add(received)
    session.flush()
    returned: list[ReturnLine] = []
    for index, item in sorted(enumerate(items), key=lambda pair: pair[1].sku):
        line = _line_of(lines, item, index)
        if not repository.add_returned(session, line.id, item.quantity):
            raise RuleViolation(
                CommerceErrorCode.RETURN_EXCEEDS_PURCHASE,
                f"{item.quantity} × {item.sku} is more than order {order.number} has left to "
                f"return ({line.quantity - line.returned_quantity} of {line.quantity}).",
                errors=[{"field": f"lines[{index}].quantity", "message": "more than bought"}],
            )
        inventory_service.adjust(
            session,
            location=location,
            sku=item.sku,
            quantity=item.quantity,
            reason=AdjustmentReason.RETURN,
            reference=f"return:{received.id}",
            actor=actor.name,
        )
        returned.append(
            ReturnLine(
                return_id=received.id,
                order_line_id=line.id,
                sku=item.sku,
                quantity=item.quantity,
                refund_amount=line.unit_price * item.quantity,
            )
        )
    session.add_all(returned)
    received.refund_total = sum(line.refund_amount for line in returned)
    _refund(session, order, received)
    session.flush()
    _received_events(session, actor, counter, order, received, returned)
    return ReturnView(received=received, lines=returned, order=order)


def _line_of(lines: Sequence[OrderLine], item: ReturnRequest, index: int) -> OrderLine:
    if item.quantity <= 0:
        raise RuleViolation(
            CommerceErrorCode.INVALID_QUANTITY,
            f"Quantity must be positive, not {item.quantity}.",
            errors=[{"field": f"lines[{index}].quantity", "message": "must be positive"}],
        )
    for line in lines:
        if line.sku == item.sku:
            return line
    raise RuleViolation(
        CommerceErrorCode.NOT_IN_ORDER,
        f"{item.sku} was not bought in this order.",
        errors=[{"field": f"lines[{index}].sku", "message": "not in the order"}],
    )


def _refund(session: Session, order: Order, received: Return) -> None:
    """The refund goes to the order's tenders in their order, each up to what it paid."""
    left = received.refund_total
    for tender in repository.tenders(session, [order.id]):
        amount = min(left, tender.amount - tender.refunded)
        orders.refund_tender(
            session, order=order, tender=tender, amount=amount, return_id=received.id
        )
        left -= max(amount, 0)
    if left > 0:
        raise Conflict(
            CommerceErrorCode.TENDER_MISMATCH,
            f"Order {order.number}'s tenders have {received.refund_total - left} left to refund, "
            f"not {received.refund_total}.",
        )


def _received_events(
    session: Session,
    actor: StaffActor,
    counter: Counter,
    order: Order,
    received: Return,
    returned: Sequence[ReturnLine],
) -> None:
    lines = [{"sku": line.sku, "quantity": line.quantity} for line in returned]
    record_event(
        session,
        ReturnReceived(
            return_id=received.id,
            order_id=order.id,
            profile_id=order.profile_id,
            refund=money(received.refund_total, order.currency),
            order_total=money(order.total, order.currency),
            channel=counter.channel,
            location=received.location,
            lines=lines,
        ),
    )
    on_timeline(
        session,
        actor=actor,
        counter=counter,
        profile_id=order.profile_id,
        anchor_id=order.anchor_id,
        event="Order Refunded",
        properties={
            "order_id": str(order.id),
            "order_number": order.number,
            "return_id": str(received.id),
            "total": received.refund_total,
            "currency": order.currency,
            "location": received.location,
            "products": lines,
        },
        message_id=f"return-{received.id}",
        at=received.created_at,
    )


def of_order(session: Session, *, order_id: UUID) -> list[ReturnView]:
    order = orders.get(session, order_id=order_id)
    found = repository.returns_of(session, [order.id])
    lines = repository.return_lines(session, [r.id for r in found])
    return [
        ReturnView(
            received=r, lines=[line for line in lines if line.return_id == r.id], order=order
        )
        for r in found
    ]
