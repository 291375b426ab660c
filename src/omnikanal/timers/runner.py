"""Runs due timers; each in its own transaction with the timer marked fired."""

import logging
from datetime import timedelta
from uuid import UUID

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from omnikanal.db import long_read
from omnikanal.kit.leases import claim_due, retry_delay
from omnikanal.kit.time import utcnow
from omnikanal.outbox.registry import HandlerRegistry
from omnikanal.timers.models import Timer, TimerStatus
from omnikanal.uow import AfterCommit, unit_of_work

logger = logging.getLogger("omnikanal.timers")

LEASE = timedelta(seconds=60)
BATCH = 100


class TimerRunner:
    def __init__(
        self,
        *,
        session_factory: sessionmaker[Session],
        registry: HandlerRegistry,
        max_attempts: int,
        after_commit: AfterCommit | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.registry = registry
        self.max_attempts = max_attempts
        self.after_commit = after_commit

    def run_due(self) -> int:
        with unit_of_work(self.session_factory) as session:
            ids = claim_due(
                session,
                Timer,
                due_column=Timer.due_at,
                pending_status=TimerStatus.SCHEDULED,
                limit=BATCH,
                lease=LEASE,
            )
        for timer_id in ids:
            self.fire(timer_id)
        return len(ids)

    def fire(self, timer_id: UUID) -> None:
        try:
            with unit_of_work(self.session_factory, after_commit=self.after_commit) as session:
                # Read before the handler's transaction begins: a handler that reads at length
                # first (db.long_read) holds SQLite's one write lock only for its writes.
                with long_read(session) as reader:
                    timer = reader.get(Timer, timer_id)
                if timer is None or timer.status != TimerStatus.SCHEDULED:
                    return
                handler = self.registry.timer_handler(timer.kind)
                if handler is None:
                    raise LookupError(f"no timer handler for kind {timer.kind!r}")
                handler(session, timer)
                if not _mark_fired(session, timer_id):
                    raise _Withdrawn()
        except _Withdrawn:
            logger.info("timer %s was cancelled while it fired; its work is undone", timer_id)
        except Exception as exc:
            logger.warning("timer %s failed: %s", timer_id, exc)
            self._record_failure(timer_id, exc)

    def _record_failure(self, timer_id: UUID, exc: BaseException) -> None:
        with unit_of_work(self.session_factory) as session:
            timer = session.get(Timer, timer_id)
            if timer is None:
                return
            timer.attempts += 1
            timer.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            timer.locked_until = None
            timer.due_at = utcnow() + retry_delay(timer.attempts)
            if timer.attempts >= self.max_attempts:
                timer.status = TimerStatus.FAILED


class _Withdrawn(Exception):
    """The timer was cancelled (or fired elsewhere) while its handler ran."""


def _mark_fired(session: Session, timer_id: UUID) -> bool:
    """The timer fired, in the handler's transaction; False when it is no longer scheduled
    (cancelled meanwhile), so the handler's work is rolled back with it."""
    marked = session.execute(
        update(Timer)
        .where(Timer.id == timer_id, Timer.status == TimerStatus.SCHEDULED)
        .values(status=TimerStatus.FIRED, fired_at=utcnow(), locked_until=None)
        .returning(Timer.id)
    )
    return marked.first() is not None
