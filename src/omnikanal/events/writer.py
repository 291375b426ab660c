"""Group commit for ingestion: concurrent requests' batches share one transaction.

Each request hands its validated messages to the writer and waits; the writer's thread
takes everything queued (up to ``max_messages``), appends it to the inbox in one
transaction, commits, and only then answers each request, then wakes the resolver that
places the messages with their people (started with the writer, stopped by ``close``).
Fewer, larger transactions are what make ingestion fast on SQLite (see DESIGN.md).
A failed group is retried, then split so that one bad request cannot fail the others.
No error ends the thread's loop (each is answered to its requests); should the thread die
anyway, ``alive`` says so (``/ready``) and the next submit starts a new one.
Nothing here outlives a request: the database is the only state.
"""

import logging
import queue
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from uuid import UUID

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from omnikanal.events import service
from omnikanal.events.resolver import Resolver
from omnikanal.events.service import IngestJob, IngestOutcome
from omnikanal.uow import unit_of_work

logger = logging.getLogger("omnikanal.ingest")

RETRIES = 4
# Of an error's message, in the log: enough to recognise it, never a whole stored value.
MAX_LOGGED_CHARS = 500


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
        resolver: Resolver | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.after_commit = after_commit
        self.resolver = resolver
        self.max_messages = max_messages
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        # Set by a thread that is ending on an error nothing could handle.
        self._failed = False
        self._lock = threading.Lock()
        self._closed = False

    @property
    def alive(self) -> bool:
        """Whether submitted work gets written: open, and its thread (if started) running.
        ``/ready`` reads this; a dead thread is replaced by the next ``submit``."""
        with self._lock:
            return not self._closed and not self._thread_dead()

    def _thread_dead(self) -> bool:
        return self._thread is not None and (self._failed or not self._thread.is_alive())

    def submit(self, job: IngestJob) -> Future[IngestOutcome]:
        pending = _Pending(job)
        with self._lock:
            if self._closed:
                raise RuntimeError("the ingest writer is closed")
            if self._thread is None or self._thread_dead():
                if self._thread is not None:
                    logger.error("the ingest writer's thread had died; starting a new one")
                self._failed = False
                self._thread = threading.Thread(
                    target=self._run, name="omnikanal-ingest", daemon=True
                )
                self._thread.start()
            self._queue.put(pending)
        if self.resolver is not None:
            self.resolver.start()
        return pending.result

    def close(self) -> None:
        """Finish what is queued, then stop (and stop the resolver)."""
        with self._lock:
            self._closed = True
            thread = self._thread
        if thread is not None and thread.is_alive():
            self._queue.put(_STOP)
            thread.join(timeout=30)
        if self.resolver is not None:
            self.resolver.close()
        if thread is not None and thread.is_alive():
            return  # still writing after the wait: what it holds is its own
        # Left by a thread that died: answered, not left waiting.
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, _Pending):
                _resolve([item], RuntimeError("the ingest writer is closed"))

    def _run(self) -> None:
        group: list[_Pending] = []
        try:
            while True:
                group = []
                first = self._queue.get()
                if first is _STOP:
                    return
                assert isinstance(first, _Pending)
                group, stop = self._gather(first)
                self._write_safely(group)
                if stop:
                    return
        except BaseException as exc:
            # Not an Exception (those are answered in _write_safely): the thread ends.
            # Nobody may be left waiting, and the next submit starts a new thread.
            with self._lock:
                self._failed = True
            _resolve(group, RuntimeError(f"the ingest writer stopped: {_describe(exc)}"))
            raise

    def _gather(self, first: _Pending) -> tuple[list[_Pending], bool]:
        """Everything queued behind ``first``, up to ``max_messages``; and whether a stop
        was asked for."""
        group = [first]
        size = len(first.job.messages)
        while size < self.max_messages:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is _STOP:
                return group, True
            assert isinstance(item, _Pending)
            group.append(item)
            size += len(item.job.messages)
        return group, False

    def _write_safely(self, group: list[_Pending]) -> None:
        """Write the group; whatever goes wrong, its requests are answered and the loop
        goes on (one message must not stop ingestion for the whole process)."""
        try:
            self._write(group)
        except Exception as exc:
            _log_failure("ingest group failed", exc)
            _resolve(group, exc)

    def _write(self, group: list[_Pending]) -> None:
        for attempt in range(RETRIES + 1):
            committed: list[UUID] = []
            try:
                with unit_of_work(self.session_factory, after_commit=committed.extend) as session:
                    outcomes = service.append(session, [p.job for p in group])
            except (OperationalError, IntegrityError) as exc:
                # A lock timeout or a concurrent writer in another process: try again.
                if attempt < RETRIES:
                    logger.warning("ingest transaction failed, retrying: %s", _describe(exc))
                    time.sleep(0.05 * 2**attempt)
                    continue
                self._fail(group, exc)
                return
            except Exception as exc:
                self._fail(group, exc)
                return
            for pending, outcome in zip(group, outcomes, strict=True):
                pending.result.set_result(outcome)
            if self.resolver is not None:
                self.resolver.wake()
            self._run_handlers(committed)
            return

    def _run_handlers(self, event_ids: list[UUID]) -> None:
        if not event_ids or self.after_commit is None:
            return
        try:
            self.after_commit(event_ids)
        except Exception as exc:
            # The events are committed; the worker retries their handlers.
            _log_failure("after-commit handlers of an ingest group failed", exc)

    def _fail(self, group: list[_Pending], exc: Exception) -> None:
        if len(group) == 1:
            _resolve(group, exc)
            _log_failure("ingest failed", exc)
            return
        # Alone, the healthy requests go through and only the bad one fails.
        for pending in group:
            self._write_safely([pending])


def _resolve(group: list[_Pending], exc: BaseException) -> None:
    """Answer every request of the group not yet answered with the error."""
    for pending in group:
        if not pending.result.done():
            pending.result.set_exception(exc)


def _describe(exc: BaseException) -> str:
    """The error's type and the start of its message, never the values it holds (a
    deeply nested one cannot even be printed): what is safe to log."""
    try:
        text = str(exc)
    except Exception:
        text = "(the message cannot be shown)"
    if len(text) > MAX_LOGGED_CHARS:
        text = text[:MAX_LOGGED_CHARS] + "..."
    return f"{type(exc).__name__}: {text}"


def _log_failure(what: str, exc: BaseException) -> None:
    try:
        # The frames say where; unlike the error's message they hold no stored values.
        frames = "".join(traceback.format_tb(exc.__traceback__))
        logger.error("%s: %s\n%s", what, _describe(exc), frames)
    except Exception:
        # Logging must not end the writer's thread; the request has its answer already.
        pass
