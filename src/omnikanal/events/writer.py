"""Group commit for ingestion: concurrent requests' batches share one transaction.

Each request hands its validated messages to the writer and waits; the writer's thread
takes everything queued (up to ``max_messages``), stores it in one transaction, commits,
and only then answers each request. Fewer, larger transactions are what make ingestion
fast on SQLite (see DESIGN.md); on PostgreSQL they also mean one identity lock per group.
A failed group is retried, then split so that one bad request cannot fail the others.
Nothing here outlives a request: the database is the only state.
"""

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from uuid import UUID

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from omnikanal.events import service
from omnikanal.events.service import IngestJob, IngestOutcome
from omnikanal.uow import unit_of_work

logger = logging.getLogger("omnikanal.ingest")

RETRIES = 4


@dataclass
class _Pending:
    job: IngestJob
    result: Future[IngestOutcome] = field(default_factory=Future)


_STOP = object()


class IngestWriter:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        after_commit: Callable[[list[UUID]], None] | None = None,
        max_messages: int = 2000,
    ) -> None:
        self.session_factory = session_factory
        self.after_commit = after_commit
        self.max_messages = max_messages
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, job: IngestJob) -> Future[IngestOutcome]:
        pending = _Pending(job)
        with self._lock:
            if self._closed:
                raise RuntimeError("the ingest writer is closed")
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="omnikanal-ingest", daemon=True
                )
                self._thread.start()
            self._queue.put(pending)
        return pending.result

    def close(self) -> None:
        """Finish what is queued, then stop."""
        with self._lock:
            self._closed = True
            thread = self._thread
        if thread is not None:
            self._queue.put(_STOP)
            thread.join(timeout=30)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            assert isinstance(first, _Pending)
            group = [first]
            size = len(first.job.messages)
            stop = False
            while size < self.max_messages:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
                assert isinstance(item, _Pending)
                group.append(item)
                size += len(item.job.messages)
            self._write(group)
            if stop:
                return

    def _write(self, group: list[_Pending]) -> None:
        for attempt in range(RETRIES + 1):
            committed: list[UUID] = []
            try:
                with unit_of_work(self.session_factory, after_commit=committed.extend) as session:
                    outcomes = service.ingest(session, [p.job for p in group])
            except (OperationalError, IntegrityError) as exc:
                # A lock timeout or a concurrent writer in another process: try again.
                if attempt < RETRIES:
                    logger.warning("ingest transaction failed, retrying: %s", exc)
                    time.sleep(0.05 * 2**attempt)
                    continue
                self._fail(group, exc)
                return
            except Exception as exc:
                self._fail(group, exc)
                return
            for pending, outcome in zip(group, outcomes, strict=True):
                pending.result.set_result(outcome)
            self._run_handlers(committed)
            return

    def _run_handlers(self, event_ids: list[UUID]) -> None:
        if not event_ids or self.after_commit is None:
            return
        try:
            self.after_commit(event_ids)
        except Exception:
            # The events are committed; the worker retries their handlers.
            logger.exception("after-commit handlers of an ingest group failed")

    def _fail(self, group: list[_Pending], exc: Exception) -> None:
        if len(group) == 1:
            logger.error("ingest failed: %s", exc, exc_info=exc)
            group[0].result.set_exception(exc)
            return
        # Alone, the healthy requests go through and only the bad one fails.
        for pending in group:
            self._write([pending])
