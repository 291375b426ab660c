"""Orders and their lines for the warehouse export (the exports domain writes the files).

An order changes after it is placed (collected, shipped, cancelled): each export takes the
orders changed since the last, by ``updated_at``, with all their lines, so the warehouse
keeps the latest copy of each ``order_id``. The buyer's email and delivery address stay in
the hub: the warehouse gets the person's ``profile_id``.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row
from sqlalchemy.orm import Session

from omnikanal.commerce import repository

# Bound parameters of one IN (...) stay well below SQLite's limit.
LINES_PER_QUERY = 1000


@dataclass(frozen=True)
class OrderChunk:
    orders: list[dict[str, Any]]
    lines: list[dict[str, Any]]


def _order(row: Row[Any]) -> dict[str, Any]:
    return {
        "order_id": str(row.id),
        "number": row.number,
        "status": row.status,
        "channel": row.channel,
        "location": row.location,
        "profile_id": str(row.profile_id) if row.profile_id else None,
        "currency": row.currency,
        "total": row.total,
        "vat_total": row.vat_total,
        "fulfilment": row.fulfilment,
        "pickup_location": row.pickup_location,
        "external_reference": row.external_reference,
        "placed_at": row.placed_at,
        "ready_at": row.ready_at,
        "handed_over_at": row.handed_over_at,
        "cancelled_at": row.cancelled_at,
        "updated_at": row.updated_at,
    }


def _line(row: Row[Any]) -> dict[str, Any]:
    return {
        "line_id": str(row.id),
        "order_id": str(row.order_id),
        "position": row.position,
        "sku": row.sku,
        "name": row.name,
        "quantity": row.quantity,
        "unit_price": row.unit_price,
        "list_price": row.list_price,
        "book_unit_price": row.book_unit_price,
        "promotion_code": row.promotion_code,
        "vat_rate_bp": row.vat_rate_bp,
        "line_total": row.line_total,
        "vat_amount": row.vat_amount,
        "returned_quantity": row.returned_quantity,
        "stock_location": row.stock_location,
        "channel": row.channel,
        "currency": row.currency,
        "placed_at": row.placed_at,
    }


def rows_for_export(
    session: Session, *, changed_after: datetime | None, changed_until: datetime, chunk: int
) -> Iterator[OrderChunk]:
    """Orders changed in (changed_after, changed_until], oldest change first, each chunk
    with its orders' lines."""
    for rows in repository.stream_changed_orders(
        session, changed_after=changed_after, changed_until=changed_until, chunk=chunk
    ):
        ids = [row.id for row in rows]
        lines = [
            _line(line)
            for start in range(0, len(ids), LINES_PER_QUERY)
            for line in repository.line_rows(session, ids[start : start + LINES_PER_QUERY])
        ]
        yield OrderChunk(orders=[_order(row) for row in rows], lines=lines)


def count_for_export(
    session: Session, *, changed_after: datetime | None, changed_until: datetime
) -> int:
    return repository.count_changed_orders(
        session, changed_after=changed_after, changed_until=changed_until
    )


def store_returns(session: Session) -> list[dict[str, Any]]:
    """Returns taken at a store, with the buyer's ``profile_id`` (of the order) and when:
    a store visit, for the analytics of showrooming. No reason, no amounts."""
    return [
        {"profile_id": str(row.profile_id), "at": row.created_at, "location": row.location}
        for row in repository.store_returns_with_buyer(session)
    ]


def orders_for_experiments(session: Session, *, since: datetime) -> list[dict[str, Any]]:
    """Orders placed from ``since`` on (not cancelled) for experiment metrics: the buyer's
    ``profile_id`` (None for an anonymous till sale), the store, the total, when, and the
    units bought and returned. No lines, no addresses."""
    return [
        {
            "order_id": row.id,
            "profile_id": row.profile_id,
            "channel": row.channel,
            "location": row.location or row.pickup_location,
            "total": int(row.total),
            "placed_at": row.placed_at,
            "units": int(row.units),
            "returned": int(row.returned),
        }
        for row in repository.orders_for_experiments(session, since=since)
    ]
