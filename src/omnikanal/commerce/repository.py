"""Every query of the commerce domain. State changes that race (closing a cart, an order's
next step, returning units, refunding a tender) are conditional single-row updates."""

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, cast
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Row,
    Table,
    and_,
    bindparam,
    case,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy import delete as sql_delete
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from omnikanal.commerce.models import (
    Cart,
    CartLine,
    CartStatus,
    Fulfilment,
    Order,
    OrderLine,
    OrderStatus,
    Refund,
    Return,
    ReturnLine,
    Tender,
)
from omnikanal.db import UuidText, as_stored, execute_stored, one_of
from omnikanal.kit.ids import new_id
from omnikanal.kit.time import utcnow

cart_line_table = cast(Table, CartLine.__table__)
order_table = cast(Table, Order.__table__)
order_line_table = cast(Table, OrderLine.__table__)
# Ids per IN list.
CHUNK = 1000


# -- carts --


def get_cart(session: Session, cart_id: UUID, *, lock: bool = False) -> Cart | None:
    query = select(Cart).where(Cart.id == cart_id).execution_options(populate_existing=True)
    if lock:
        query = query.with_for_update()
    return session.scalar(query)


def active_carts(session: Session, profile_ids: Sequence[UUID]) -> Sequence[Cart]:
    """The active carts of these profiles, the most recently changed first."""
    query = (
        select(Cart)
        .where(Cart.profile_id.in_(profile_ids), Cart.status == CartStatus.ACTIVE)
        .order_by(Cart.updated_at.desc(), Cart.id.desc())
    )
    return session.scalars(query).all()


def cart_lines(session: Session, cart_ids: Sequence[UUID]) -> Sequence[CartLine]:
    query = (
        select(CartLine)
        .where(CartLine.cart_id.in_(cart_ids))
        .order_by(CartLine.added_at, CartLine.id)
        .execution_options(populate_existing=True)
    )
    return session.scalars(query).all()


def add_to_line(
    session: Session, *, cart_id: UUID, sku: str, quantity: int, unit_price: int, at_most: int
) -> bool:
    """Add units to the cart's line of ``sku`` (made when missing), in one statement;
    False (nothing changed) when the line would then hold more than ``at_most``."""
    now = utcnow()
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(cart_line_table).values(
        id=new_id(),
        cart_id=cart_id,
        sku=sku,
        quantity=quantity,
        unit_price_when_added=unit_price,
        added_at=now,
        updated_at=now,
    )
    statement = statement.on_conflict_do_update(
        index_elements=["cart_id", "sku"],
        set_={
            "quantity": cart_line_table.c.quantity + statement.excluded.quantity,
            "unit_price_when_added": statement.excluded.unit_price_when_added,
            "updated_at": now,
        },
        where=cart_line_table.c.quantity + statement.excluded.quantity <= at_most,
    )
    # RETURNING, not rowcount: psycopg reports -1 for an upsert that changed nothing.
    return session.execute(statement.returning(cart_line_table.c.id)).first() is not None


def add_to_lines(
    session: Session, *, cart_id: UUID, units: Mapping[str, tuple[int, int]], at_most: int
) -> set[str]:
    """``add_to_line`` for many SKUs (SKU: (units, unit price)) in one statement; the SKUs
    whose lines changed (one missing would have passed ``at_most``)."""
    now = utcnow()
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(cart_line_table).values(
        [
            {
                "id": new_id(),
                "cart_id": cart_id,
                "sku": sku,
                "quantity": quantity,
                "unit_price_when_added": unit_price,
                "added_at": now,
                "updated_at": now,
            }
            for sku, (quantity, unit_price) in sorted(units.items())
        ]
    )
    statement = statement.on_conflict_do_update(
        index_elements=["cart_id", "sku"],
        set_={
            "quantity": cart_line_table.c.quantity + statement.excluded.quantity,
            "unit_price_when_added": statement.excluded.unit_price_when_added,
            "updated_at": now,
        },
        where=cart_line_table.c.quantity + statement.excluded.quantity <= at_most,
    )
    return set(session.scalars(statement.returning(cart_line_table.c.sku)))


def set_line_quantity(session: Session, *, cart_id: UUID, sku: str, quantity: int) -> None:
    session.execute(
        update(cart_line_table)
        .where(cart_line_table.c.cart_id == cart_id, cart_line_table.c.sku == sku)
        .values(quantity=quantity, updated_at=utcnow())
    )


def delete_line(session: Session, *, cart_id: UUID, sku: str) -> None:
    session.execute(
        cart_line_table.delete().where(
            cart_line_table.c.cart_id == cart_id, cart_line_table.c.sku == sku
        )
    )


def copy_line(session: Session, line: CartLine, *, to_cart: UUID) -> None:
    """The same line in another cart; its ``added_at`` tells it came from ``line``."""
    session.execute(
        cart_line_table.insert().values(
            id=new_id(),
            cart_id=to_cart,
            sku=line.sku,
            quantity=line.quantity,
            unit_price_when_added=line.unit_price_when_added,
            added_at=line.added_at,
            updated_at=line.updated_at,
        )
    )


def carts_anchored_in(session: Session, anchor_ids: Sequence[UUID]) -> Sequence[Cart]:
    """The carts (not checked out) made for one of these identifiers, oldest first."""
    query = (
        select(Cart)
        .where(Cart.anchor_id.in_(anchor_ids), Cart.status != CartStatus.CHECKED_OUT)
        .order_by(Cart.created_at, Cart.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return session.scalars(query).all()


def carts_joined_into(session: Session, cart_id: UUID) -> Sequence[Cart]:
    query = (
        select(Cart)
        .where(Cart.merged_into == cart_id, Cart.status == CartStatus.MERGED)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return session.scalars(query).all()


def close_cart(session: Session, cart_id: UUID, *, order_id: UUID) -> bool:
    """Mark an active cart checked out; False when it was not active (a second checkout)."""
    result = session.execute(
        update(Cart)
        .where(Cart.id == cart_id, Cart.status == CartStatus.ACTIVE)
        .values(status=CartStatus.CHECKED_OUT, order_id=order_id, updated_at=utcnow())
    )
    return bool(getattr(result, "rowcount", 0))


def close_active_cart(session: Session, cart_id: UUID, *, order_id: UUID) -> Cart | None:
    """Close an active cart for its order, in one statement; the cart, or None when it
    was not active (merged away, checked out, or no such cart)."""
    statement = (
        update(Cart)
        .where(Cart.id == cart_id, Cart.status == CartStatus.ACTIVE)
        .values(status=CartStatus.CHECKED_OUT, order_id=order_id, updated_at=utcnow())
        .returning(Cart)
        .execution_options(populate_existing=True)
    )
    return session.scalar(statement)


def reopen_cart(session: Session, cart_id: UUID) -> None:
    session.execute(
        update(Cart)
        .where(Cart.id == cart_id)
        .values(status=CartStatus.ACTIVE, order_id=None)
        .execution_options(synchronize_session="fetch")
    )


def cart_with_others(
    session: Session, cart_id: UUID, profile_ids: Sequence[UUID]
) -> tuple[list[CartLine], list[UUID]]:
    """In one query: the cart's lines (oldest first) and the ids of these profiles' other
    active carts."""
    query = (
        select(Cart.id, CartLine)
        .outerjoin(CartLine, CartLine.cart_id == Cart.id)
        .where(
            or_(
                Cart.id == cart_id,
                and_(Cart.profile_id.in_(profile_ids), Cart.status == CartStatus.ACTIVE),
            )
        )
        .order_by(CartLine.added_at, CartLine.id)
        .execution_options(populate_existing=True)
    )
    lines: list[CartLine] = []
    others: set[UUID] = set()
    for found, line in session.execute(query):
        if found != cart_id:
            others.add(found)
        elif line is not None:
            lines.append(line)
    return lines, sorted(others)


# -- orders --


def get_order(session: Session, order_id: UUID) -> Order | None:
    return session.get(Order, order_id, populate_existing=True)


def order_by_number(session: Session, number: str) -> Order | None:
    return session.scalar(select(Order).where(Order.number == number))


def orders_of(
    session: Session,
    profile_ids: Sequence[UUID],
    *,
    before: tuple[datetime, UUID] | None,
    limit: int,
) -> Sequence[Order]:
    query = select(Order).where(Order.profile_id.in_(profile_ids))
    if before is not None:
        moment, order_id = before
        query = query.where(
            or_(Order.placed_at < moment, and_(Order.placed_at == moment, Order.id < order_id))
        )
    return session.scalars(
        query.order_by(Order.placed_at.desc(), Order.id.desc()).limit(limit)
    ).all()


def uncollected(session: Session, *, placed_before: datetime, limit: int) -> Sequence[Order]:
    query = (
        select(Order)
        .where(
            Order.fulfilment == Fulfilment.CLICK_AND_COLLECT,
            Order.status.in_(OrderStatus.AWAITING_PICKUP),
            Order.placed_at < placed_before,
        )
        .order_by(Order.placed_at)
        .limit(limit)
    )
    return session.scalars(query).all()


def pickup_queue(session: Session, location: str, *, statuses: Sequence[str]) -> Sequence[Order]:
    query = (
        select(Order)
        .where(Order.pickup_location == location, Order.status.in_(statuses))
        .order_by(Order.arrived_at.is_(None), Order.arrived_at, Order.placed_at)
        .limit(500)
    )
    return session.scalars(query).all()


def order_lines(session: Session, order_ids: Sequence[UUID]) -> Sequence[OrderLine]:
    query = (
        select(OrderLine)
        .where(OrderLine.order_id.in_(order_ids))
        .order_by(OrderLine.order_id, OrderLine.position)
        .execution_options(populate_existing=True)
    )
    return session.scalars(query).all()


def tenders(session: Session, order_ids: Sequence[UUID]) -> Sequence[Tender]:
    query = (
        select(Tender)
        .where(Tender.order_id.in_(order_ids))
        .order_by(Tender.order_id, Tender.position)
        .execution_options(populate_existing=True)
    )
    return session.scalars(query).all()


def move_order(
    session: Session, order_id: UUID, *, to: str, allowed_from: Sequence[str], **values: Any
) -> bool:
    """Move an order to its next status if it is in one of ``allowed_from``."""
    result = session.execute(
        update(Order)
        .where(Order.id == order_id, Order.status.in_(allowed_from))
        .values(status=to, updated_at=utcnow(), **values)
    )
    return bool(getattr(result, "rowcount", 0))


def add_returned(session: Session, line_id: UUID, quantity: int) -> bool:
    """Count units of a line as returned, unless that would return more than was bought."""
    result = session.execute(
        update(OrderLine)
        .where(
            OrderLine.id == line_id,
            OrderLine.returned_quantity + quantity <= OrderLine.quantity,
        )
        .values(returned_quantity=OrderLine.returned_quantity + quantity)
    )
    return bool(getattr(result, "rowcount", 0))


def add_refunded(session: Session, tender_id: UUID, amount: int) -> bool:
    result = session.execute(
        update(Tender)
        .where(Tender.id == tender_id, Tender.refunded + amount <= Tender.amount)
        .values(refunded=Tender.refunded + amount)
    )
    return bool(getattr(result, "rowcount", 0))


def returns_of(session: Session, order_ids: Sequence[UUID]) -> Sequence[Return]:
    query = select(Return).where(Return.order_id.in_(order_ids)).order_by(Return.created_at)
    return session.scalars(query).all()


def return_lines(session: Session, return_ids: Sequence[UUID]) -> Sequence[ReturnLine]:
    return session.scalars(select(ReturnLine).where(ReturnLine.return_id.in_(return_ids))).all()


def refunds_of(session: Session, order_ids: Sequence[UUID]) -> Sequence[Refund]:
    query = select(Refund).where(Refund.order_id.in_(order_ids)).order_by(Refund.created_at)
    return session.scalars(query).all()


def get_return(session: Session, return_id: UUID) -> Return | None:
    return session.get(Return, return_id)


# -- orders imported as history (history.py): set-based, a few statements per batch --


def imported_orders(session: Session, keys: Sequence[tuple[str, str]]) -> Sequence[Row[Any]]:
    """The imported orders with these (channel, external reference) natural keys."""
    c = order_table.c
    columns = (
        c.id,
        c.channel,
        c.external_reference,
        c.number,
        c.profile_id,
        c.anchor_id,
        c.location,
        c.placed_at,
        c.currency,
    )
    numbers: dict[str, set[str]] = {}
    for channel, number in keys:
        numbers.setdefault(channel, set()).add(number)
    found: list[Row[Any]] = []
    for channel, of_channel in sorted(numbers.items()):
        query = select(*columns).where(
            c.imported_at.is_not(None),
            c.channel == channel,
            one_of(c.external_reference, of_channel),
        )
        found.extend(session.execute(query))
    return found


def numbers_taken(session: Session, numbers: Sequence[str]) -> set[str]:
    """Which of these order numbers an order already has."""
    c = order_table.c
    return set(session.scalars(select(c.number).where(one_of(c.number, numbers))))


def line_summaries(session: Session, order_ids: Sequence[UUID]) -> Sequence[Row[Any]]:
    """(order_id, position, sku, name, unit_price, quantity, line_total, vat_amount) of
    these orders' lines."""
    c = order_line_table.c
    columns = (
        c.order_id,
        c.position,
        c.sku,
        c.name,
        c.unit_price,
        c.quantity,
        c.line_total,
        c.vat_amount,
    )
    found: list[Row[Any]] = []
    for at in range(0, len(order_ids), CHUNK):
        query = select(*columns).where(c.order_id.in_(order_ids[at : at + CHUNK]))
        found.extend(session.execute(query))
    return found


def insert_orders(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Imported orders, in bulk (every column given)."""
    execute_stored(session, insert(order_table), rows)


def insert_order_lines(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Imported orders' lines, in bulk (every column given)."""
    execute_stored(session, insert(order_line_table), rows)


def add_to_totals(session: Session, changes: Sequence[tuple[UUID, int, int]]) -> None:
    """Add (total, VAT) to each order: lines added to an imported order."""
    if changes:
        c = order_table.c
        statement = (
            update(order_table)
            .where(c.id == bindparam("b_id"))
            .values(
                total=c.total + bindparam("b_total"),
                vat_total=c.vat_total + bindparam("b_vat"),
                updated_at=bindparam("b_now"),
            )
        )
        now = utcnow()
        session.execute(
            statement,
            [{"b_id": i, "b_total": t, "b_vat": v, "b_now": now} for i, t, v in changes],
        )


def order_facts(session: Session, profile_ids: Sequence[UUID]) -> Sequence[Row[Any]]:
    """(id, profile_id, status, channel, location, pickup_location, placed_at) of these
    profiles' orders, each profile's newest first (the ids break ties): what habits are
    told from. The ids are only matched against others (the order's against unit_facts'),
    never shown: the order's is read as stored, the profile's as text; no UUID built per
    order."""
    c = order_table.c
    columns = (
        as_stored(c.id).label("id"),
        UuidText(c.profile_id).label("profile_id"),
        c.status,
        c.channel,
        c.location,
        c.pickup_location,
        c.placed_at,
    )
    unique = sorted(set(profile_ids))
    found: list[Row[Any]] = []
    for at in range(0, len(unique), CHUNK):
        # A profile's orders are all in its chunk: the database orders them.
        query = (
            select(*columns)
            .where(c.profile_id.in_(unique[at : at + CHUNK]))
            .order_by(c.placed_at.desc(), c.id.desc())
        )
        found.extend(session.execute(query).all())
    return found


def unit_facts(session: Session, profile_ids: Sequence[UUID]) -> Sequence[tuple[Any, str, int]]:
    """(order_id as stored, as order_facts reads it; sku, quantity) of the lines of these
    profiles' orders: found by the profiles (a few parameters), not every order's id."""
    line, order = order_line_table.c, order_table.c
    unique = sorted(set(profile_ids))
    found: list[tuple[Any, str, int]] = []
    for at in range(0, len(unique), CHUNK):
        query = (
            select(as_stored(line.order_id), line.sku, line.quantity)
            .join_from(order_line_table, order_table, line.order_id == order.id)
            .where(order.profile_id.in_(unique[at : at + CHUNK]))
        )
        found.extend(session.execute(query).all())
    return found


def import_visits(
    session: Session, *, placed_by: UUID, since: datetime
) -> list[tuple[UUID, str, datetime, datetime, int]]:
    """(profile, channel, first and last order time, orders) of the orders an import
    begun at ``since`` made, by person and channel. Found among the orders imports wrote
    since then (ix_commerce_order_imported_updated); anonymous ones are dropped here, as a
    condition on profile_id would have SQLite walk the profile index over every order."""
    c = order_table.c
    query = (
        select(c.profile_id, c.channel, func.min(c.placed_at), func.max(c.placed_at), func.count())
        .where(c.imported_at.is_not(None), c.updated_at >= since, c.placed_by == placed_by)
        .group_by(c.profile_id, c.channel)
    )
    return [
        (p, channel, first, last, n) for p, channel, first, last, n in session.execute(query) if p
    ]


def people_with_imported_orders(session: Session, *, since: datetime) -> list[UUID]:
    """The profiles of imported orders made or given lines since then (``updated_at``
    is the import's time for both): one row per such order, read by the index of imported
    orders' update times (DISTINCT or a condition on profile_id would have SQLite walk the
    profile index over every order instead)."""
    c = order_table.c
    # As text: a person has many orders, and only the distinct ones become UUIDs.
    query = select(UuidText(c.profile_id)).where(c.imported_at.is_not(None), c.updated_at >= since)
    return sorted(UUID(text) for text in set(session.scalars(query)) if text)


# -- the price audit --


def audit_summary(
    session: Session, *, since: datetime, until: datetime, channel: str | None
) -> Sequence[Row[Any]]:
    """Per channel and SKU: lines sold, lines charged off the book, and by how much."""
    off_book = OrderLine.unit_price != OrderLine.book_unit_price
    query = (
        select(
            OrderLine.channel,
            OrderLine.sku,
            OrderLine.currency,
            func.count().label("lines"),
            func.sum(case((off_book, 1), else_=0)).label("mismatched"),
            # In 64 bits: a till's price far under the book's, times the units, can pass 32.
            func.sum(
                (sql_cast(OrderLine.unit_price, BigInteger) - OrderLine.book_unit_price)
                * OrderLine.quantity
            ).label("difference"),
        )
        .where(OrderLine.placed_at >= since, OrderLine.placed_at < until)
        .group_by(OrderLine.channel, OrderLine.sku, OrderLine.currency)
        .order_by(OrderLine.channel, OrderLine.sku, OrderLine.currency)
    )
    if channel is not None:
        query = query.where(OrderLine.channel == channel)
    return session.execute(query).all()


def audit_mismatches(
    session: Session, *, since: datetime, until: datetime, channel: str | None, limit: int
) -> Sequence[Row[OrderLine, str, str | None]]:
    query = (
        select(OrderLine, Order.number, Order.location)
        .join(Order, Order.id == OrderLine.order_id)
        .where(
            OrderLine.placed_at >= since,
            OrderLine.placed_at < until,
            OrderLine.unit_price != OrderLine.book_unit_price,
        )
        .order_by(OrderLine.placed_at.desc(), OrderLine.id)
        .limit(limit)
    )
    if channel is not None:
        query = query.where(OrderLine.channel == channel)
    return session.execute(query).all()


# -- a person's part, for export and erasure (privacy.py) --


def carts_of(session: Session, profile_ids: Sequence[UUID]) -> Sequence[Cart]:
    return session.scalars(
        select(Cart).where(Cart.profile_id.in_(profile_ids)).order_by(Cart.created_at)
    ).all()


def cart_lines_of(session: Session, cart_ids: Sequence[UUID]) -> Sequence[CartLine]:
    return session.scalars(
        select(CartLine).where(CartLine.cart_id.in_(cart_ids)).order_by(CartLine.added_at)
    ).all()


def delete_carts(session: Session, cart_ids: Sequence[UUID]) -> int:
    if not cart_ids:
        return 0
    session.execute(sql_delete(CartLine).where(CartLine.cart_id.in_(cart_ids)))
    result = session.execute(sql_delete(Cart).where(Cart.id.in_(cart_ids)))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def orders_of_person(
    session: Session, profile_ids: Sequence[UUID], emails: Sequence[str]
) -> Sequence[Order]:
    """The person's orders: placed for their profiles, or with their email address."""
    named: ColumnElement[bool] = Order.profile_id.in_(profile_ids)
    if emails:
        named = or_(named, func.lower(Order.email).in_(emails))
    return session.scalars(select(Order).where(named).order_by(Order.placed_at)).all()


def order_parts(
    session: Session, order_ids: Sequence[UUID]
) -> tuple[Sequence[OrderLine], Sequence[Tender], Sequence[Return], Sequence[Refund]]:
    lines = session.scalars(
        select(OrderLine).where(OrderLine.order_id.in_(order_ids)).order_by(OrderLine.position)
    ).all()
    tenders = session.scalars(
        select(Tender).where(Tender.order_id.in_(order_ids)).order_by(Tender.position)
    ).all()
    returns = session.scalars(
        select(Return).where(Return.order_id.in_(order_ids)).order_by(Return.created_at)
    ).all()
    refunds = session.scalars(
        select(Refund).where(Refund.order_id.in_(order_ids)).order_by(Refund.created_at)
    ).all()
    return lines, tenders, returns, refunds


def return_lines_of(session: Session, return_ids: Sequence[UUID]) -> Sequence[ReturnLine]:
    return session.scalars(select(ReturnLine).where(ReturnLine.return_id.in_(return_ids))).all()


# -- the warehouse export (exports domain), streamed in chunks --

# Typed loosely: rows are read by name.
EXPORTED_ORDER_COLUMNS: tuple[Any, ...] = (
    Order.id,
    Order.number,
    Order.status,
    Order.channel,
    Order.location,
    Order.profile_id,
    Order.currency,
    Order.total,
    Order.vat_total,
    Order.fulfilment,
    Order.pickup_location,
    Order.external_reference,
    Order.placed_at,
    Order.ready_at,
    Order.handed_over_at,
    Order.cancelled_at,
    Order.updated_at,
)
EXPORTED_LINE_COLUMNS: tuple[Any, ...] = (
    OrderLine.id,
    OrderLine.order_id,
    OrderLine.position,
    OrderLine.sku,
    OrderLine.name,
    OrderLine.quantity,
    OrderLine.unit_price,
    OrderLine.list_price,
    OrderLine.book_unit_price,
    OrderLine.promotion_code,
    OrderLine.vat_rate_bp,
    OrderLine.line_total,
    OrderLine.vat_amount,
    OrderLine.returned_quantity,
    OrderLine.stock_location,
    OrderLine.channel,
    OrderLine.currency,
    OrderLine.placed_at,
)


def _changed_orders(
    changed_after: datetime | None, changed_until: datetime
) -> list[ColumnElement[bool]]:
    conditions = [Order.updated_at <= changed_until]
    if changed_after is not None:
        conditions.append(Order.updated_at > changed_after)
    return conditions


def stream_changed_orders(
    session: Session, *, changed_after: datetime | None, changed_until: datetime, chunk: int
) -> Iterator[Sequence[Row[Any]]]:
    """Orders changed in (changed_after, changed_until], oldest change first, ``chunk``
    rows at a time from one server-side cursor."""
    query = (
        select(*EXPORTED_ORDER_COLUMNS)
        .where(*_changed_orders(changed_after, changed_until))
        .order_by(Order.updated_at, Order.id)
        .execution_options(yield_per=chunk)
    )
    yield from session.execute(query).partitions()


def count_changed_orders(
    session: Session, *, changed_after: datetime | None, changed_until: datetime
) -> int:
    query = select(func.count()).select_from(cast(Table, Order.__table__))
    return session.scalar(query.where(*_changed_orders(changed_after, changed_until))) or 0


def line_rows(session: Session, order_ids: Sequence[UUID]) -> Sequence[Row[Any]]:
    query = (
        select(*EXPORTED_LINE_COLUMNS)
        .where(OrderLine.order_id.in_(order_ids))
        .order_by(OrderLine.order_id, OrderLine.position)
    )
    return session.execute(query).all()


def store_returns_with_buyer(
    session: Session,
) -> Sequence[Row[UUID | None, str, datetime]]:
    """(profile id, store, when) of every return taken at a store from a known buyer."""
    query = (
        select(Order.profile_id, Return.location, Return.created_at)
        .join(Order, Order.id == Return.order_id)
        .where(Order.profile_id.is_not(None), Return.location.is_not(None))
        .order_by(Return.created_at)
    )
    return session.execute(query).all()


def orders_for_experiments(session: Session, *, since: datetime) -> Sequence[Row[Any]]:
    """Orders placed from ``since`` on (cancelled ones left out), with the units bought and
    returned on their lines: what an experiment's metrics count."""
    units = (
        select(
            OrderLine.order_id.label("order_id"),
            func.sum(OrderLine.quantity).label("units"),
            func.sum(OrderLine.returned_quantity).label("returned"),
        )
        .group_by(OrderLine.order_id)
        .subquery()
    )
    query = (
        select(
            Order.id,
            Order.profile_id,
            Order.channel,
            Order.location,
            Order.pickup_location,
            Order.total,
            Order.placed_at,
            func.coalesce(units.c.units, 0).label("units"),
            func.coalesce(units.c.returned, 0).label("returned"),
        )
        .outerjoin(units, units.c.order_id == Order.id)
        .where(Order.placed_at >= since, Order.status != OrderStatus.CANCELLED)
        .order_by(Order.placed_at)
    )
    return session.execute(query).all()


def skus_bought_since(
    session: Session, profile_ids: Sequence[UUID], *, since: datetime | None
) -> set[str]:
    """The SKUs of these profiles' orders (not cancelled) placed at or after ``since``."""
    query = (
        select(OrderLine.sku)
        .join(Order, Order.id == OrderLine.order_id)
        .where(Order.profile_id.in_(profile_ids), Order.status != OrderStatus.CANCELLED)
    )
    if since is not None:
        query = query.where(Order.placed_at >= since)
    return set(session.scalars(query.distinct()))
