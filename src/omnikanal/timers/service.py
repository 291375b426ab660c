from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, delete, func, or_, select
from sqlalchemy.orm import Session

from omnikanal.timers.models import Timer, TimerStatus


def schedule(
    session: Session, *, kind: str, key: str, due_at: datetime, payload: dict[str, Any]
) -> Timer:
    """Schedule (or move) the timer named (kind, key); a fired one is armed again."""
    timer = session.scalar(select(Timer).where(Timer.kind == kind, Timer.key == key))
    if timer is None:
        timer = Timer(kind=kind, key=key, due_at=due_at, payload=payload)
        session.add(timer)
    else:
        timer.due_at = due_at
        timer.payload = payload
        timer.status = TimerStatus.SCHEDULED
        timer.attempts = 0
        timer.last_error = None
        timer.locked_until = None
    session.flush()
    return timer


def cancel(session: Session, *, kind: str, key: str) -> bool:
    timer = session.scalar(select(Timer).where(Timer.kind == kind, Timer.key == key))
    if timer is None or timer.status != TimerStatus.SCHEDULED:
        return False
    timer.status = TimerStatus.CANCELLED
    session.flush()
    return True


def get(session: Session, *, kind: str, key: str) -> Timer | None:
    return session.scalar(select(Timer).where(Timer.kind == kind, Timer.key == key))


def matching(session: Session, *, payload_or_key: Any) -> Sequence[Timer]:
    """Timers whose payload or key meet a condition built by ``payload_or_key(column)``
    (the privacy part's text pre-filter)."""
    condition: ColumnElement[bool] = or_(payload_or_key(Timer.payload), payload_or_key(Timer.key))
    return session.scalars(select(Timer).where(condition)).all()


def delete_timers(session: Session, timer_ids: Sequence[UUID]) -> int:
    if not timer_ids:
        return 0
    result = session.execute(delete(Timer).where(Timer.id.in_(timer_ids)))
    return int(getattr(result, "rowcount", 0) or 0)


def count_scheduled(session: Session, *, kind: str) -> int:
    """Timers of ``kind`` armed and waiting to fire."""
    query = select(func.count(Timer.id)).where(
        Timer.kind == kind, Timer.status == TimerStatus.SCHEDULED
    )
    return int(session.scalar(query) or 0)


@dataclass(frozen=True)
class DueWork:
    """Timers whose time has come and that no worker has fired yet."""

    due: int
    oldest_due_at: datetime | None


def due_work(session: Session, *, now: datetime) -> DueWork:
    query = select(func.count(Timer.id), func.min(Timer.due_at)).where(
        Timer.status == TimerStatus.SCHEDULED, Timer.due_at <= now
    )
    count, oldest = session.execute(query).one()
    return DueWork(due=int(count or 0), oldest_due_at=oldest)
