"""Leasing due rows to one worker at a time (outbox deliveries, timers).

A row is taken by setting ``locked_until``; a worker that crashes simply lets the lease run
out. On PostgreSQL ``SKIP LOCKED`` keeps concurrent workers off each other's rows; SQLite's
single writer gives the same guarantee.
"""

from datetime import timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from omnikanal.kit.time import utcnow


def claim_due(
    session: Session,
    model: Any,
    *,
    due_column: InstrumentedAttribute[Any],
    pending_status: str,
    limit: int,
    lease: timedelta,
    filters: tuple[ColumnElement[bool], ...] = (),
) -> list[UUID]:
    now = utcnow()
    candidates = (
        select(model.id)
        .where(
            model.status == pending_status,
            due_column <= now,
            or_(model.locked_until.is_(None), model.locked_until < now),
            *filters,
        )
        .order_by(due_column)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list(session.scalars(candidates))
    if ids:
        session.execute(update(model).where(model.id.in_(ids)).values(locked_until=now + lease))
    return ids


def retry_delay(attempts: int) -> timedelta:
    """5 s, 10 s, 20 s ... capped at an hour."""
    return timedelta(seconds=min(5 * 2 ** max(attempts - 1, 0), 3600))
