from datetime import datetime
from typing import Any

from sqlalchemy import select
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
