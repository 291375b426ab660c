"""One stock: on hand, reserved and allocated per location and SKU, with every change of on
hand recorded with its reason. Every change is a conditional update (see repository), so
however many channels try at once, available stock never goes below zero."""

import dataclasses
from datetime import datetime, timedelta
from enum import StrEnum
from typing import ClassVar
from uuid import UUID

from sqlalchemy.orm import Session

from omnikanal.errors import Conflict, NotFound, RuleViolation
from omnikanal.inventory import repository
from omnikanal.inventory.models import (
    Adjustment,
    AdjustmentReason,
    Hold,
    HoldKind,
    HoldStatus,
    Location,
    Stock,
)
from omnikanal.kit.time import utcnow
from omnikanal.uow import DomainEvent, record_event

RESERVATION_TTL = timedelta(minutes=15)


class InventoryErrorCode(StrEnum):
    LOCATION_NOT_FOUND = "location_not_found"
    INSUFFICIENT_STOCK = "insufficient_stock"
    INVALID_QUANTITY = "invalid_quantity"
    UNKNOWN_REASON = "unknown_reason"
    HOLD_NOT_FOUND = "hold_not_found"
    HOLD_NOT_ACTIVE = "hold_not_active"


@dataclasses.dataclass(frozen=True)
class StockChanged(DomainEvent):
    type: ClassVar[str] = "stock.changed"
    location: str
    sku: str
    available: int


def _location(session: Session, code: str) -> None:
    location(session, code=code)


def location(session: Session, *, code: str) -> Location:
    found = repository.get_location(session, code)
    if found is None:
        raise NotFound(InventoryErrorCode.LOCATION_NOT_FOUND, f"No location {code!r}.")
    return found


def _positive(quantity: int) -> None:
    if quantity <= 0:
        raise RuleViolation(
            InventoryErrorCode.INVALID_QUANTITY, f"Quantity must be positive, not {quantity}."
        )


def _insufficient(location: str, sku: str, quantity: int) -> Conflict:
    return Conflict(
        InventoryErrorCode.INSUFFICIENT_STOCK,
        f"Fewer than {quantity} of {sku} are available at {location}.",
    )


def _changed(session: Session, location: str, sku: str) -> Stock:
    stock = repository.get_stock(session, location, sku)
    assert stock is not None
    record_event(
        session,
        StockChanged(
            location=location,
            sku=sku,
            available=stock.on_hand - stock.reserved - stock.allocated,
        ),
    )
    return stock


def adjust(
    session: Session,
    *,
    location: str,
    sku: str,
    quantity: int,
    reason: str,
    reference: str | None = None,
    actor: str | None = None,
) -> Stock:
    """Change on hand by ``quantity`` (negative takes away; only available units can go)."""
    if reason not in AdjustmentReason.ALL:
        raise RuleViolation(
            InventoryErrorCode.UNKNOWN_REASON,
            f"Unknown reason {reason!r}; one of {', '.join(AdjustmentReason.ALL)}.",
        )
    if quantity == 0:
        raise RuleViolation(InventoryErrorCode.INVALID_QUANTITY, "A change of 0 changes nothing.")
    _location(session, location)
    repository.ensure_stock_row(session, location, sku)
    if not repository.change_stock(
        session, location, sku, needs_available=max(-quantity, 0), on_hand=quantity
    ):
        raise _insufficient(location, sku, -quantity)
    session.add(
        Adjustment(
            location=location,
            sku=sku,
            quantity=quantity,
            reason=reason,
            reference=reference,
            actor=actor,
        )
    )
    session.flush()
    return _changed(session, location, sku)


def count(session: Session, *, location: str, sku: str, counted: int, actor: str | None) -> Stock:
    """A stock count: on hand becomes what was counted (recorded as the difference)."""
    if counted < 0:
        raise RuleViolation(InventoryErrorCode.INVALID_QUANTITY, "A count is never negative.")
    _location(session, location)
    repository.ensure_stock_row(session, location, sku)
    stock = repository.get_stock(session, location, sku)
    assert stock is not None
    if counted == stock.on_hand:
        return stock
    return adjust(
        session,
        location=location,
        sku=sku,
        quantity=counted - stock.on_hand,
        reason=AdjustmentReason.COUNT,
        actor=actor,
    )


def hold(
    session: Session,
    *,
    kind: str,
    location: str,
    sku: str,
    quantity: int,
    reference: str | None,
    ttl: timedelta | None = RESERVATION_TTL,
    now: datetime | None = None,
) -> Hold:
    """Set stock aside: a reservation (expires after ``ttl``) or an allocation."""
    _positive(quantity)
    _location(session, location)
    repository.ensure_stock_row(session, location, sku)
    field = "reserved" if kind == HoldKind.RESERVATION else "allocated"
    if not repository.change_stock(
        session, location, sku, needs_available=quantity, **{field: quantity}
    ):
        raise _insufficient(location, sku, quantity)
    moment = now or utcnow()
    expires = moment + ttl if kind == HoldKind.RESERVATION and ttl else None
    held = Hold(
        kind=kind,
        location=location,
        sku=sku,
        quantity=quantity,
        reference=reference,
        expires_at=expires,
    )
    session.add(held)
    session.flush()
    _changed(session, location, sku)
    return held


def _end(session: Session, hold_id: UUID, status: str) -> Hold:
    ended = repository.end_hold(session, hold_id, status=status)
    if ended is None:
        if repository.get_hold(session, hold_id) is None:
            raise NotFound(InventoryErrorCode.HOLD_NOT_FOUND, f"No hold {hold_id}.")
        raise Conflict(InventoryErrorCode.HOLD_NOT_ACTIVE, f"Hold {hold_id} has ended already.")
    return ended


def _held_field(held: Hold) -> str:
    return "reserved" if held.kind == HoldKind.RESERVATION else "allocated"


def release(session: Session, *, hold_id: UUID, status: str = HoldStatus.RELEASED) -> Hold:
    """Give held stock back (a cancelled order, an expired reservation)."""
    held = _end(session, hold_id, status)
    repository.change_stock(
        session, held.location, held.sku, needs_available=0, **{_held_field(held): -held.quantity}
    )
    _changed(session, held.location, held.sku)
    return held


def fulfil(session: Session, *, hold_id: UUID, reference: str | None = None) -> Hold:
    """The held units leave: collected at the store, or shipped (a sale)."""
    held = _end(session, hold_id, HoldStatus.FULFILLED)
    repository.change_stock(
        session,
        held.location,
        held.sku,
        needs_available=0,
        on_hand=-held.quantity,
        **{_held_field(held): -held.quantity},
    )
    session.add(
        Adjustment(
            location=held.location,
            sku=held.sku,
            quantity=-held.quantity,
            reason=AdjustmentReason.SALE,
            reference=reference or held.reference,
        )
    )
    session.flush()
    _changed(session, held.location, held.sku)
    return held


def expire_due(session: Session, *, now: datetime | None = None, limit: int = 500) -> int:
    """Let expired reservations go; the worker runs this every minute."""
    due = repository.expired_reservations(session, now or utcnow(), limit)
    for hold_id in due:
        release(session, hold_id=hold_id, status=HoldStatus.EXPIRED)
    return len(due)


def available(stock: Stock) -> int:
    return stock.on_hand - stock.reserved - stock.allocated


def allocate(session: Session, *, sku: str, quantity: int, reference: str | None) -> Hold:
    """Allocate units for delivery from wherever they are: a warehouse first, then a store
    (ship from store). Each location is tried with a conditional update, so a location
    emptied meanwhile by another channel is passed over, never oversold."""
    _positive(quantity)
    for location in repository.sourcing_candidates(session, sku, quantity):
        if repository.change_stock(
            session, location, sku, needs_available=quantity, allocated=quantity
        ):
            held = Hold(
                kind=HoldKind.ALLOCATION,
                location=location,
                sku=sku,
                quantity=quantity,
                reference=reference,
            )
            session.add(held)
            session.flush()
            _changed(session, location, sku)
            return held
    raise Conflict(
        InventoryErrorCode.INSUFFICIENT_STOCK,
        f"No location has {quantity} of {sku} available for delivery.",
    )
