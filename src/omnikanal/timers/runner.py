"""Runs due timers; each in its own transaction with the timer marked fired."""

import logging
from datetime import timedelta
from uuid import UUID

from sqlalchemy.orm import Session, sessionmaker

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
                timer = session.get(Timer, timer_id)
                if timer is None or timer.status != TimerStatus.SCHEDULED:
                    return
                handler = self.registry.timer_handler(timer.kind)
                if handler is None:
                    raise LookupError(f"no timer handler for kind {timer.kind!r}")
                handler(session, timer)
                timer.status = TimerStatus.FIRED
                timer.fired_at = utcnow()
                timer.locked_until = None
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
