"""Events for the warehouse export (the exports domain writes them as Parquet or CSV).

Events are append-only, so they are exported once each, in the order they were stored:
by id (time-ordered, made when the event is stored). Only ``profile_id`` changes later
(merges); the warehouse learns of merges from ``profile.merged`` and the profiles export.
"""

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import orjson
from sqlalchemy import Row
from sqlalchemy.orm import Session

from omnikanal.events import repository


def _row(row: Row[Any]) -> dict[str, Any]:
    # Ids and JSON members arrive as text, made by the database (repository).
    return row._asdict()


def rows_for_export(
    session: Session,
    *,
    from_id: UUID | None,
    before: UUID,
    received_since: datetime | None = None,
    chunk: int,
) -> Iterator[list[dict[str, Any]]]:
    """Events with ids in [from_id, before) — stored in that time window, as ids are
    time-ordered — and received at or after ``received_since``, in storage order, as
    chunks of plain rows."""
    for rows in repository.stream_events(
        session, from_id=from_id, before=before, received_since=received_since, chunk=chunk
    ):
        yield [_row(row) for row in rows]


def count_for_export(
    session: Session,
    *,
    from_id: UUID | None,
    before: UUID,
    received_since: datetime | None = None,
) -> int:
    return repository.count_events(
        session, from_id=from_id, before=before, received_since=received_since
    )


def product_events(
    session: Session, *, names: Sequence[str], chunk: int
) -> Iterator[list[tuple[str, str, datetime, str]]]:
    """(profile_id, event name, timestamp, sku) of every event of these names that names
    a SKU in its properties (``Product Viewed``, ``Product Added``), in storage order, in
    chunks: what a recommender learns from beside the orders. Timestamps are UTC."""
    for rows in repository.stream_product_events(session, names=names, chunk=chunk):
        found = []
        for row in rows:
            sku = _text(row.sku)
            if sku:
                at = row.timestamp if row.timestamp.tzinfo else row.timestamp.replace(tzinfo=UTC)
                found.append((row.profile_id, row.name, at, sku))
        yield found


def _text(value: str | None) -> str | None:
    """A JSON member's text: a string's value, a number's digits; else None."""
    if value is None:
        return None
    try:
        parsed = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    if isinstance(parsed, str):
        return parsed or None
    if isinstance(parsed, int) and not isinstance(parsed, bool):
        return str(parsed)
    return None
