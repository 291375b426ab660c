"""Every query of the inventory domain. Stock changes are conditional updates (one row,
or an order's SKUs at one location): concurrent writers (PostgreSQL re-checks the
condition after the row lock; SQLite has one writer) can never take available stock below
zero, so the last unit is sold once."""

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast
from uuid import UUID

from sqlalchemy import Table, and_, bindparam, case, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from omnikanal.db import insert_ignoring_duplicates
from omnikanal.inventory.models import Adjustment, Hold, HoldStatus, Location, Stock
from omnikanal.kit.limits import INT32_MAX
from omnikanal.kit.time import utcnow

stock_table = cast(Table, Stock.__table__)
location_table = cast(Table, Location.__table__)
hold_table = cast(Table, Hold.__table__)
AVAILABLE = stock_table.c.on_hand - stock_table.c.reserved - stock_table.c.allocated


def get_location(session: Session, code: str) -> Location | None:
    return session.get(Location, code)


def insert_location(session: Session, *, code: str, fields: dict[str, Any]) -> bool:
    """Insert the location unless its code exists; False when it did (made meanwhile by a
    concurrent request, whose commit this waits for on PostgreSQL)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        insert(location_table)
        .values(code=code, **fields)
        .on_conflict_do_nothing(index_elements=["code"])
    )
    # RETURNING, not rowcount: psycopg reports -1 for an insert, made or not.
    return session.execute(statement.returning(location_table.c.code)).first() is not None


def existing_codes(session: Session, codes: Sequence[str]) -> set[str]:
    unique = sorted(set(codes))
    if not unique:
        return set()
    return set(session.scalars(select(Location.code).where(Location.code.in_(unique))))


def locations(
    session: Session,
    *,
    kind: str | None = None,
    pickup: bool | None = None,
    active: bool | None = True,
) -> Sequence[Location]:
    """Locations by code; ``None`` filters nothing."""
    query = select(Location)
    if kind is not None:
        query = query.where(Location.kind == kind)
    if pickup is not None:
        query = query.where(Location.offers_pickup == pickup)
    if active is not None:
        query = query.where(Location.active == active)
    return session.scalars(query.order_by(Location.code)).all()


def ensure_stock_row(session: Session, location: str, sku: str) -> None:
    insert_ignoring_duplicates(
        session,
        stock_table,
        [
            {
                "location": location,
                "sku": sku,
                "on_hand": 0,
                "reserved": 0,
                "allocated": 0,
                "updated_at": utcnow(),
            }
        ],
        keys=("location", "sku"),
    )


def change_stock(
    session: Session, location: str, sku: str, *, needs_available: int, **deltas: int
) -> bool:
    """Add ``deltas`` (on_hand, reserved, allocated) if at least ``needs_available`` units
    are available and each stays within its 32-bit column; False (nothing changed)
    otherwise."""
    values: dict[str, Any] = {name: stock_table.c[name] + delta for name, delta in deltas.items()}
    values["updated_at"] = utcnow()
    # Compared without adding in SQL: PostgreSQL would fail on the overflowing sum itself.
    within = [
        stock_table.c[name] <= INT32_MAX - delta for name, delta in deltas.items() if delta > 0
    ]
    result = session.execute(
        update(stock_table)
        .where(
            stock_table.c.location == location,
            stock_table.c.sku == sku,
            AVAILABLE >= needs_available,
            *within,
        )
        .values(**values)
    )
    return bool(getattr(result, "rowcount", 0))


def get_stock(session: Session, location: str, sku: str) -> Stock | None:
    return session.get(Stock, (location, sku), populate_existing=True)


def lock_stock_rows(session: Session, locations: Sequence[str], sku: str) -> None:
    """Lock these stock rows in code order (PostgreSQL; SQLite has one writer anyway), so
    two transfers in opposite directions queue instead of deadlocking."""
    session.execute(
        select(stock_table.c.location)
        .where(stock_table.c.location.in_(sorted(locations)), stock_table.c.sku == sku)
        .order_by(stock_table.c.location)
        .with_for_update()
    ).all()


def stock_at(
    session: Session, location: str, *, sku_prefix: str | None, after: str | None, limit: int
) -> Sequence[Stock]:
    """A location's stock rows by SKU (keyset: SKUs after ``after``)."""
    query = select(Stock).where(Stock.location == location)
    if sku_prefix:
        # substr, not LIKE: exact and case-sensitive on both databases.
        query = query.where(func.substr(Stock.sku, 1, len(sku_prefix)) == sku_prefix)
    if after is not None:
        query = query.where(Stock.sku > after)
    query = query.order_by(Stock.sku).limit(limit)
    return session.scalars(query.execution_options(populate_existing=True)).all()


def stock_by_location(session: Session, sku: str) -> list[tuple[Location, Stock | None]]:
    """Every active location with its row for ``sku``, if it has one."""
    query = (
        select(Location, Stock)
        .outerjoin(Stock, and_(Stock.location == Location.code, Stock.sku == sku))
        .where(Location.active)
    )
    rows = session.execute(
        query.order_by(Location.code).execution_options(populate_existing=True)
    ).all()
    return [(found, stock) for found, stock in rows]


def recent_adjustments(
    session: Session, location: str, sku: str, *, limit: int
) -> Sequence[Adjustment]:
    query = (
        select(Adjustment)
        .where(Adjustment.location == location, Adjustment.sku == sku)
        .order_by(Adjustment.created_at.desc(), Adjustment.id.desc())
        .limit(limit)
    )
    return session.scalars(query).all()


def end_hold(session: Session, hold_id: UUID, *, status: str) -> Hold | None:
    """Mark an active hold ended; None when it was not active (already ended)."""
    result = session.execute(
        update(hold_table)
        .where(hold_table.c.id == hold_id, hold_table.c.status == HoldStatus.ACTIVE)
        .values(status=status, ended_at=utcnow())
    )
    if not getattr(result, "rowcount", 0):
        return None
    return session.get(Hold, hold_id, populate_existing=True)


def get_hold(session: Session, hold_id: UUID) -> Hold | None:
    return session.get(Hold, hold_id)


def expired_reservations(session: Session, now: datetime, limit: int) -> list[UUID]:
    query = (
        select(Hold.id)
        .where(Hold.status == HoldStatus.ACTIVE, Hold.expires_at <= now)
        .order_by(Hold.expires_at)
        .limit(limit)
    )
    return list(session.scalars(query))


def adjustment_total(session: Session, location: str, sku: str) -> int:
    total = session.scalar(
        select(func.coalesce(func.sum(Adjustment.quantity), 0)).where(
            Adjustment.location == location, Adjustment.sku == sku
        )
    )
    return int(total or 0)


def sourcing_candidates(session: Session, sku: str, quantity: int) -> list[str]:
    """Locations with ``quantity`` of ``sku`` available: warehouses first, then stores."""
    query = (
        select(Stock.location)
        .join(Location, Location.code == Stock.location)
        .where(Stock.sku == sku, Location.active, AVAILABLE >= quantity)
        .order_by((Location.kind != "warehouse"), Location.code)
    )
    return list(session.scalars(query))


# -- bulk (imports) --

adjustment_table = cast(Table, Adjustment.__table__)


def stock_rows(
    session: Session, keys: Sequence[tuple[str, str]], *, lock: bool = False
) -> dict[tuple[str, str], tuple[int, int, int]]:
    """(on_hand, reserved, allocated) of each (location, sku) that has a row; locked for
    the rest of the transaction when ``lock`` (PostgreSQL)."""
    found: dict[tuple[str, str], tuple[int, int, int]] = {}
    c = stock_table.c
    by_location: dict[str, list[str]] = {}
    for location, sku in set(keys):
        by_location.setdefault(location, []).append(sku)
    for location, skus in sorted(by_location.items()):
        for start in range(0, len(skus), 1000):
            query = select(c.location, c.sku, c.on_hand, c.reserved, c.allocated).where(
                c.location == location, c.sku.in_(sorted(skus)[start : start + 1000])
            )
            if lock:
                query = query.order_by(c.sku).with_for_update()
            found.update({(loc, s): (o, r, a) for loc, s, o, r, a in session.execute(query)})
    return found


def location_codes(session: Session, codes: Sequence[str]) -> set[str]:
    query = select(location_table.c.code).where(location_table.c.code.in_(sorted(set(codes))))
    return set(session.scalars(query))


def insert_stock_rows(session: Session, keys: Sequence[tuple[str, str]]) -> None:
    now = utcnow()
    insert_ignoring_duplicates(
        session,
        stock_table,
        [
            {
                "location": loc,
                "sku": sku,
                "on_hand": 0,
                "reserved": 0,
                "allocated": 0,
                "updated_at": now,
            }
            for loc, sku in keys
        ],
        keys=("location", "sku"),
    )


def set_on_hand(session: Session, levels: Sequence[tuple[str, str, int]]) -> None:
    """On hand set on each (location, sku); the caller checked what is held fits."""
    if not levels:
        return
    statement = (
        update(stock_table)
        .where(
            stock_table.c.location == bindparam("key_location"),
            stock_table.c.sku == bindparam("key_sku"),
        )
        .values(on_hand=bindparam("new_on_hand"), updated_at=bindparam("new_updated_at"))
    )
    now = utcnow()
    session.execute(
        statement,
        [
            {"key_location": loc, "key_sku": sku, "new_on_hand": n, "new_updated_at": now}
            for loc, sku, n in levels
        ],
    )


def insert_adjustments(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(adjustment_table), list(rows))


# -- taking stock for an order (set-based) --


def take_stock(
    session: Session, location: str, quantities: Mapping[str, int], *, field: str
) -> dict[str, tuple[int, int, int]]:
    """Take ``quantities`` (SKU: units) at one location in one conditional UPDATE: sold
    (``on_hand`` goes down) or held (``reserved``/``allocated`` go up). Only SKUs with the
    units available change; each changed one's (on_hand, reserved, allocated) after.

    The rows are locked in SKU order first (the sub-select; PostgreSQL), so two orders
    over the same SKUs queue instead of deadlocking. No sum can pass its 32-bit column:
    a hold adds at most what is available, which on_hand already bounds."""
    c = stock_table.c
    skus = sorted(quantities)
    need = case({sku: quantities[sku] for sku in skus}, value=c.sku)
    locked = (
        select(c.sku)
        .where(c.location == location, c.sku.in_(skus))
        .order_by(c.sku)
        .with_for_update()
    )
    change = c.on_hand - need if field == "on_hand" else c[field] + need
    statement = (
        update(stock_table)
        .where(c.location == location, c.sku.in_(locked), AVAILABLE >= need)
        .values({field: change, "updated_at": utcnow()})
        .returning(c.sku, c.on_hand, c.reserved, c.allocated)
    )
    return {sku: (o, r, a) for sku, o, r, a in session.execute(statement)}


def sourcing_candidates_for(
    session: Session, quantities: Mapping[str, int]
) -> dict[str, list[str]]:
    """For each SKU, the locations with its quantity available: warehouses first, then
    stores (one query for all SKUs)."""
    need = case(dict(quantities), value=Stock.sku)
    query = (
        select(Stock.sku, Stock.location)
        .join(Location, Location.code == Stock.location)
        .where(Stock.sku.in_(sorted(quantities)), Location.active, AVAILABLE >= need)
        .order_by(Stock.sku, (Location.kind != "warehouse"), Location.code)
    )
    found: dict[str, list[str]] = {sku: [] for sku in quantities}
    for sku, location in session.execute(query):
        found[sku].append(location)
    return found


def insert_holds(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(hold_table), list(rows))


def available_by_sku(
    session: Session, skus: Sequence[str], *, location: str | None
) -> dict[str, int]:
    """Units available of each SKU that has stock rows: at ``location``, or summed over
    every active location when it is None."""
    c = stock_table.c
    available = c.on_hand - c.reserved - c.allocated
    found: dict[str, int] = {}
    wanted = sorted(set(skus))
    for start in range(0, len(wanted), 1000):
        chunk = wanted[start : start + 1000]
        if location is not None:
            query = select(c.sku, available).where(c.location == location, c.sku.in_(chunk))
        else:
            query = (
                select(c.sku, func.sum(available))
                .join(location_table, location_table.c.code == c.location)
                .where(c.sku.in_(chunk), location_table.c.active)
                .group_by(c.sku)
            )
        found.update({sku: int(units or 0) for sku, units in session.execute(query)})
    return found
