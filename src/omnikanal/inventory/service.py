"""One stock: on hand, reserved and allocated per location and SKU, with every change of on
hand recorded with its reason. Every change is a conditional update (see repository), so
however many channels try at once, available stock never goes below zero.

Also the locations themselves (stores and warehouses), which are nearest a customer, and
where a SKU can be had (S5, S7)."""

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, ClassVar
from uuid import UUID

from sqlalchemy.orm import Session

from omnikanal.catalog import service as catalog_service
from omnikanal.errors import Conflict, NotFound, RuleViolation
from omnikanal.inventory import geo, repository
from omnikanal.inventory.models import (
    Adjustment,
    AdjustmentReason,
    Hold,
    HoldKind,
    HoldStatus,
    Location,
    Stock,
)
from omnikanal.kit.ids import new_id
from omnikanal.kit.limits import INT32_MAX
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
    SAME_LOCATION = "same_location"
    LOCATION_NOT_ALLOWED = "location_not_allowed"
    TOO_MUCH_STOCK = "too_much_stock"


@dataclasses.dataclass(frozen=True)
class StockChanged(DomainEvent):
    type: ClassVar[str] = "stock.changed"
    location: str
    sku: str
    available: int


@dataclasses.dataclass(frozen=True)
class StockAvailableAgain(DomainEvent):
    """A location had none of a SKU available and now has some (back in stock)."""

    type: ClassVar[str] = "stock.available_again"
    location: str
    sku: str
    available: int


@dataclasses.dataclass(frozen=True)
class LocationChanged(DomainEvent):
    type: ClassVar[str] = "location.changed"
    code: str
    created: bool


@dataclasses.dataclass(frozen=True)
class StockLevel:
    """One SKU at one location; all zero where the location never had it."""

    location: str
    sku: str
    on_hand: int = 0
    reserved: int = 0
    allocated: int = 0
    updated_at: datetime | None = None

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved - self.allocated

    @classmethod
    def of(cls, stock: Stock) -> "StockLevel":
        return cls(
            location=stock.location,
            sku=stock.sku,
            on_hand=stock.on_hand,
            reserved=stock.reserved,
            allocated=stock.allocated,
            updated_at=stock.updated_at,
        )


def _level(location: str, sku: str, stock: Stock | None) -> StockLevel:
    return StockLevel.of(stock) if stock is not None else StockLevel(location=location, sku=sku)


@dataclasses.dataclass(frozen=True)
class LocationStock:
    location: Location
    stock: StockLevel


@dataclasses.dataclass(frozen=True)
class NearbyLocation:
    location: Location
    distance_km: float
    # Units of the asked-for SKU available there; None when no SKU was asked for.
    available: int | None


@dataclasses.dataclass(frozen=True)
class StockDetail:
    stock: StockLevel
    # Newest first.
    adjustments: Sequence[Adjustment]


@dataclasses.dataclass(frozen=True)
class Transfer:
    sku: str
    quantity: int
    # Both adjustments carry it, so the two halves can be found together.
    reference: str
    source: StockLevel
    destination: StockLevel


# The public ``location`` is shadowed inside functions that take a ``location`` argument;
# they use this.
def _location(session: Session, code: str) -> Location:
    found = repository.get_location(session, code)
    if found is None:
        raise NotFound(InventoryErrorCode.LOCATION_NOT_FOUND, f"No location {code!r}.")
    return found


def location(session: Session, *, code: str) -> Location:
    """The store or warehouse with this code (active or not)."""
    return _location(session, code)


def known_locations(session: Session, *, codes: Sequence[str]) -> set[str]:
    """Which of these location codes exist (active or not), in one query."""
    return repository.existing_codes(session, codes)


def upsert_location(
    session: Session, *, code: str, fields: dict[str, Any]
) -> tuple[Location, bool]:
    """Create the location or replace its description; True when it was created. Two
    requests creating one code at once both succeed: the later one replaces."""
    created = repository.get_location(session, code) is None and repository.insert_location(
        session, code=code, fields=fields
    )
    existing = repository.get_location(session, code)
    assert existing is not None  # inserted now, or by the request that won
    if not created:
        for name, value in fields.items():
            setattr(existing, name, value)
    session.flush()
    record_event(session, LocationChanged(code=code, created=created))
    return existing, created


def locations(
    session: Session,
    *,
    kind: str | None = None,
    pickup: bool | None = None,
    active: bool | None = True,
) -> Sequence[Location]:
    """Locations by code: by default the active ones; ``None`` does not filter."""
    return repository.locations(session, kind=kind, pickup=pickup, active=active)


def nearby(
    session: Session,
    *,
    latitude: float,
    longitude: float,
    limit: int,
    pickup_only: bool = False,
    sku: str | None = None,
) -> list[NearbyLocation]:
    """Active locations nearest the point, by great-circle distance; with ``sku``, how
    many units of it each has available. Computed here, not in SQL: a retailer has at
    most a few thousand locations, and both databases then answer the same."""
    candidates: list[tuple[Location, int | None]]
    if sku is None:
        candidates = [
            (found, None)
            for found in repository.locations(session, pickup=True if pickup_only else None)
        ]
    else:
        catalog_service.product(session, sku=sku)
        candidates = [
            (found, _level(found.code, sku, stock).available)
            for found, stock in repository.stock_by_location(session, sku)
            if found.offers_pickup or not pickup_only
        ]
    ranked = sorted(
        (
            NearbyLocation(
                location=found,
                distance_km=geo.distance_km(latitude, longitude, found.latitude, found.longitude),
                available=units,
            )
            for found, units in candidates
        ),
        key=lambda n: (n.distance_km, n.location.code),
    )
    return ranked[:limit]


def availability(session: Session, *, sku: str) -> list[LocationStock]:
    """The SKU at every active location (zero where there is none)."""
    catalog_service.product(session, sku=sku)
    return [
        LocationStock(location=found, stock=_level(found.code, sku, stock))
        for found, stock in repository.stock_by_location(session, sku)
    ]


def stock_page(
    session: Session,
    *,
    location: str,
    sku_prefix: str | None = None,
    after: str | None = None,
    limit: int = 50,
) -> list[StockLevel]:
    """A location's stock rows in SKU order, those after ``after`` (keyset paging)."""
    _location(session, location)
    rows = repository.stock_at(session, location, sku_prefix=sku_prefix, after=after, limit=limit)
    return [StockLevel.of(row) for row in rows]


def stock_detail(session: Session, *, location: str, sku: str, recent: int = 20) -> StockDetail:
    """One SKU at one location, with its ``recent`` latest adjustments."""
    _location(session, location)
    return StockDetail(
        stock=_level(location, sku, repository.get_stock(session, location, sku)),
        adjustments=repository.recent_adjustments(session, location, sku, limit=recent),
    )


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


def _changed(session: Session, location: str, sku: str, *, freed: int = 0) -> Stock:
    """Record the new availability; ``freed`` units became available by this change."""
    stock = repository.get_stock(session, location, sku)
    assert stock is not None
    now_available = stock.on_hand - stock.reserved - stock.allocated
    record_event(session, StockChanged(location=location, sku=sku, available=now_available))
    if freed > 0 and now_available - freed <= 0 < now_available:
        record_event(
            session, StockAvailableAgain(location=location, sku=sku, available=now_available)
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
        if quantity > 0:  # only a sum past the column's bound refuses units added
            raise RuleViolation(
                InventoryErrorCode.TOO_MUCH_STOCK,
                f"{location} would hold more than {INT32_MAX} of {sku}.",
                errors=[{"field": "quantity", "message": f"on hand stays at most {INT32_MAX}"}],
            )
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
    return _changed(session, location, sku, freed=max(quantity, 0))


def count(
    session: Session,
    *,
    location: str,
    sku: str,
    counted: int,
    actor: str | None,
    reference: str | None = None,
) -> Stock:
    """A stock count: on hand becomes what was counted (recorded as the difference)."""
    if counted < 0:
        raise RuleViolation(InventoryErrorCode.INVALID_QUANTITY, "A count is never negative.")
    _location(session, location)
    repository.ensure_stock_row(session, location, sku)
    # Locked, so a sale between reading and writing cannot make on hand miss the count.
    repository.lock_stock_rows(session, [location], sku)
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
        reference=reference,
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
    _changed(session, held.location, held.sku, freed=held.quantity)
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


def transfer(
    session: Session,
    *,
    sku: str,
    from_location: str,
    to_location: str,
    quantity: int,
    actor: str | None,
    reference: str | None = None,
) -> Transfer:
    """Move available units from one location to another: a transfer_out and a
    transfer_in adjustment in this transaction, or neither (409 when too few are
    available at the source)."""
    _positive(quantity)
    if from_location == to_location:
        raise RuleViolation(
            InventoryErrorCode.SAME_LOCATION, "A transfer goes to another location."
        )
    _location(session, from_location)
    _location(session, to_location)
    ends = sorted((from_location, to_location))
    for code in ends:
        repository.ensure_stock_row(session, code, sku)
    repository.lock_stock_rows(session, ends, sku)
    reference = reference or f"transfer:{new_id()}"
    taken = adjust(
        session,
        location=from_location,
        sku=sku,
        quantity=-quantity,
        reason=AdjustmentReason.TRANSFER_OUT,
        reference=reference,
        actor=actor,
    )
    source = StockLevel.of(taken)
    given = adjust(
        session,
        location=to_location,
        sku=sku,
        quantity=quantity,
        reason=AdjustmentReason.TRANSFER_IN,
        reference=reference,
        actor=actor,
    )
    return Transfer(
        sku=sku,
        quantity=quantity,
        reference=reference,
        source=source,
        destination=StockLevel.of(given),
    )


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


# -- an order's stock, set-based --


@dataclasses.dataclass(frozen=True)
class Taken:
    """Where one SKU of an order came from, and its hold (None: sold at once)."""

    location: str
    hold_id: UUID | None


def sell(
    session: Session, *, location: str, quantities: Mapping[str, int], reference: str | None
) -> dict[str, Taken]:
    """A sale over the counter: ``quantities`` (SKU: units) leave ``location``'s on hand,
    all or none, in one conditional update; each with its adjustment."""
    changed = _take(session, location, quantities, field="on_hand")
    now = utcnow()
    repository.insert_adjustments(
        session,
        [
            {
                "id": new_id(),
                "location": location,
                "sku": sku,
                "quantity": -quantity,
                "reason": AdjustmentReason.SALE,
                "reference": reference,
                "actor": None,
                "created_at": now,
            }
            for sku, quantity in sorted(quantities.items())
        ],
    )
    _stock_changed(session, location, changed)
    return {sku: Taken(location, None) for sku in quantities}


def reserve(
    session: Session, *, location: str, quantities: Mapping[str, int], reference: str | None
) -> dict[str, Taken]:
    """Reservations at one store for an order to collect (no expiry), all or none."""
    changed = _take(session, location, quantities, field="reserved")
    taken = _holds(
        session, HoldKind.RESERVATION, dict.fromkeys(quantities, location), quantities, reference
    )
    _stock_changed(session, location, changed)
    return taken


def allocate_all(
    session: Session, *, quantities: Mapping[str, int], reference: str | None
) -> dict[str, Taken]:
    """Allocations for delivery, each SKU from the first location that has it (warehouses
    first, as ``allocate``): one query for where, then one conditional update per
    location; a SKU a location no longer has (taken meanwhile) tries its next one."""
    for quantity in quantities.values():
        _positive(quantity)
    candidates = repository.sourcing_candidates_for(session, quantities)
    source: dict[str, str] = {}
    levels: dict[tuple[str, str], tuple[int, int, int]] = {}
    while len(source) < len(quantities):
        by_location: dict[str, dict[str, int]] = {}
        for sku in sorted(set(quantities) - set(source)):
            if not candidates[sku]:
                raise Conflict(
                    InventoryErrorCode.INSUFFICIENT_STOCK,
                    f"No location has {quantities[sku]} of {sku} available for delivery.",
                )
            by_location.setdefault(candidates[sku].pop(0), {})[sku] = quantities[sku]
        for location, wanted in sorted(by_location.items()):
            changed = repository.take_stock(session, location, wanted, field="allocated")
            levels.update({(location, sku): level for sku, level in changed.items()})
            source.update(dict.fromkeys(changed, location))
    taken = _holds(session, HoldKind.ALLOCATION, source, quantities, reference)
    for (location, sku), level in sorted(levels.items()):
        _stock_changed(session, location, {sku: level})
    return taken


def _take(
    session: Session, location: str, quantities: Mapping[str, int], *, field: str
) -> dict[str, tuple[int, int, int]]:
    for quantity in quantities.values():
        _positive(quantity)
    changed = repository.take_stock(session, location, quantities, field=field)
    missing = sorted(set(quantities) - set(changed))
    if missing:
        _location(session, location)  # an unknown location says so
        raise _insufficient(location, missing[0], quantities[missing[0]])
    return changed


def _stock_changed(
    session: Session, location: str, changed: Mapping[str, tuple[int, int, int]]
) -> None:
    for sku, (on_hand, reserved, allocated) in sorted(changed.items()):
        record_event(
            session,
            StockChanged(location=location, sku=sku, available=on_hand - reserved - allocated),
        )


def _holds(
    session: Session,
    kind: str,
    source: Mapping[str, str],
    quantities: Mapping[str, int],
    reference: str | None,
) -> dict[str, Taken]:
    now = utcnow()
    ids = {sku: new_id() for sku in quantities}
    rows: list[dict[str, Any]] = [
        {
            "id": ids[sku],
            "kind": kind,
            "location": source[sku],
            "sku": sku,
            "quantity": quantities[sku],
            "status": HoldStatus.ACTIVE,
            "reference": reference,
            "expires_at": None,
            "created_at": now,
            "ended_at": None,
        }
        for sku in sorted(quantities)
    ]
    repository.insert_holds(session, rows)
    return {sku: Taken(source[sku], ids[sku]) for sku in quantities}


# -- bulk, from another system's stock file (imports) --


@dataclasses.dataclass(frozen=True)
class LevelImported:
    # created (a new stock row), updated, unchanged or refused
    status: str
    # When refused: the field at fault and why.
    field: str = ""
    reason: str = ""


def import_levels(
    session: Session,
    *,
    levels: Sequence[tuple[str, str, int]],
    reference: str,
    actor: str | None = None,
) -> list[LevelImported]:
    """Set on hand of each (location, sku, on_hand), recorded as an adjustment with
    reason ``import`` (the difference); a level already so is unchanged. On hand never
    goes below what is reserved and allocated there. The same stock twice: the later wins."""
    known_skus = catalog_service.existing_skus(session, skus=sorted({s for _, s, _ in levels}))
    codes = repository.location_codes(session, [loc for loc, _, _ in levels])
    keys = [(loc, sku) for loc, sku, _ in levels if loc in codes and sku in known_skus]
    current = repository.stock_rows(session, keys, lock=True)
    before = dict(current)
    results: list[LevelImported] = []
    for loc, sku, on_hand in levels:
        if loc not in codes:
            results.append(LevelImported("refused", "location", "no location has this code"))
            continue
        if sku not in known_skus:
            results.append(LevelImported("refused", "sku", "no product has this SKU"))
            continue
        found = current.get((loc, sku))
        if found is None:
            current[(loc, sku)] = (on_hand, 0, 0)
            results.append(LevelImported("created"))
            continue
        held = found[1] + found[2]
        if found[0] == on_hand:
            results.append(LevelImported("unchanged"))
        elif on_hand < held:
            reason = "fewer than the units reserved and allocated there"
            results.append(LevelImported("refused", "on_hand", reason))
        else:
            current[(loc, sku)] = (on_hand, found[1], found[2])
            new = (loc, sku) not in before
            results.append(LevelImported("created" if new else "updated"))
    _write_levels(session, before, current, reference=reference, actor=actor)
    return results


def _write_levels(
    session: Session,
    before: dict[tuple[str, str], tuple[int, int, int]],
    after: dict[tuple[str, str], tuple[int, int, int]],
    *,
    reference: str,
    actor: str | None,
) -> None:
    repository.insert_stock_rows(session, sorted(set(after) - set(before)))
    changed = sorted(k for k, v in after.items() if v[0] != before.get(k, (0, 0, 0))[0])
    repository.set_on_hand(session, [(loc, sku, after[(loc, sku)][0]) for loc, sku in changed])
    now = utcnow()
    repository.insert_adjustments(
        session,
        [
            {
                "id": new_id(),
                "location": loc,
                "sku": sku,
                "quantity": after[(loc, sku)][0] - before.get((loc, sku), (0, 0, 0))[0],
                "reason": AdjustmentReason.IMPORT,
                "reference": reference,
                "actor": actor,
                "created_at": now,
            }
            for loc, sku in changed
        ],
    )
    for loc, sku in changed:
        on_hand, reserved, allocated = after[(loc, sku)]
        available_now = on_hand - reserved - allocated
        old = before.get((loc, sku), (0, 0, 0))
        available_before = old[0] - old[1] - old[2]
        record_event(session, StockChanged(location=loc, sku=sku, available=available_now))
        if available_before <= 0 < available_now:
            record_event(
                session, StockAvailableAgain(location=loc, sku=sku, available=available_now)
            )


def available_units(
    session: Session, *, skus: Sequence[str], location: str | None
) -> dict[str, int]:
    """Units available of each of these SKUs at ``location`` (every active location
    together when None), in one query per 1,000 SKUs; zero where there is no stock."""
    found = repository.available_by_sku(session, skus, location=location)
    return {sku: max(found.get(sku, 0), 0) for sku in skus}
