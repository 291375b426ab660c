"""The resolver: places appended messages with their people, in large batches.

Ingestion appends to the inbox and answers; this takes the oldest inbox rows in position
order, ``batch_size`` at a time, and in one transaction places them (``service.resolve``),
stores them as events, deletes them from the inbox and renews its lease. A crash rolls
the whole batch back, so the next run repeats it with no double effect.

One resolver works per database at a time: it holds a lease row, renewed in each batch's
transaction; another process stands by and takes over once the lease lapses (the holder
died or stopped). Each process runs one resolver thread (``start``), woken after each
append and polling otherwise; tests and tools drive it directly (``resolve_batch``,
``resolve_through``, ``drain``).
"""

import logging
import os
import socket
import threading
import time
import uuid

from sqlalchemy.orm import Session, sessionmaker

from omnikanal.config import Settings
from omnikanal.db import is_sqlite, make_session_factory
from omnikanal.events import repository, service
from omnikanal.uow import AfterCommit, unit_of_work

logger = logging.getLogger("omnikanal.resolver")

# After a failed batch, before trying again (it is retried as long as it fails).
FAILURE_PAUSE_SECONDS = 1.0
# The smallest batch a time-sized resolver takes (and its first).
MIN_BATCH = 200
# A time-sized (SQLite) resolver's pause between batches: a few looks of a waiting writer.
YIELD_SECONDS = 0.005
# While nobody appends, batches may hold the write lock this many times longer.
IDLE_BATCH_FACTOR = 4


class ResolutionTimeout(Exception):
    """A position was not resolved within the time asked for."""


class Resolver:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        after_commit: AfterCommit | None = None,
        batch_size: int = 5000,
        batch_seconds: float | None = None,
        lease_seconds: float = 15.0,
        poll_seconds: float = 0.5,
        enabled: bool = True,
    ) -> None:
        self.session_factory = session_factory
        # Looking costs no write lock: on SQLite every write transaction takes the one lock.
        bind = session_factory.kw.get("bind")
        self.read_session_factory = (
            make_session_factory(bind, read_only=True) if bind is not None else session_factory
        )
        self.after_commit = after_commit
        self.batch_size = batch_size
        # SQLite has one writer: a batch holds off every append for as long as it runs, so
        # batches are sized to last about ``batch_seconds`` (None: always ``batch_size``).
        self.batch_seconds = batch_seconds
        self._limit = batch_size if batch_seconds is None else min(MIN_BATCH, batch_size)
        self._pause = 0.0
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        # Whether ``start`` runs a thread (OMNIKANAL_RESOLVER); driving it directly works
        # either way.
        self.enabled = enabled
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        # One batch at a time in this process, whoever drives it.
        self._working = threading.Lock()
        self._state = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False

    @classmethod
    def from_settings(
        cls,
        session_factory: sessionmaker[Session],
        settings: Settings,
        *,
        after_commit: AfterCommit | None = None,
    ) -> "Resolver":
        """As configured (OMNIKANAL_RESOLVER_*); on SQLite batches are sized by time."""
        sqlite = is_sqlite(settings.resolved_database_url())
        return cls(
            session_factory,
            after_commit=after_commit,
            batch_size=settings.resolver_batch_size,
            batch_seconds=settings.resolver_batch_seconds if sqlite else None,
            lease_seconds=settings.resolver_lease_seconds,
            poll_seconds=settings.resolver_poll_seconds,
            enabled=settings.resolver,
        )

    # -- driving it --

    def resolve_batch(self) -> int | None:
        """Resolve one batch: how many inbox rows it took (0: none waited), or None while
        another process holds the lease."""
        with self._working:
            with self.read_session_factory() as peek:
                highest = repository.highest_position(peek)
            if highest is None:
                return 0
            started = time.perf_counter()
            with unit_of_work(self.session_factory, after_commit=self.after_commit) as session:
                if not service.take_resolver_lease(
                    session, holder=self.holder, seconds=self.lease_seconds
                ):
                    return None
                done = service.resolve(session, limit=self._limit)
            elapsed = time.perf_counter() - started
            if self.batch_seconds is not None:
                appending = self._appended_since(highest)
                self._size_next(done, elapsed, appending=appending)
                # Appends first while channels send (they are what a client waits for):
                # the write lock is theirs for as long as this batch held it.
                self._pause = elapsed if appending else YIELD_SECONDS
            return done

    def _appended_since(self, position: int) -> bool:
        with self.read_session_factory() as peek:
            return (repository.highest_position(peek) or 0) > position

    def _size_next(self, done: int, seconds: float, *, appending: bool) -> None:
        """Aim the next batch at ``batch_seconds`` from this one's pace while channels
        append; while they do not, at IDLE_BATCH_FACTOR times that (bigger batches cost
        less each, and an append that arrives waits at most that long). Full batches
        only: a short one says nothing about the pace."""
        if self.batch_seconds is None or done < self._limit or seconds <= 0:
            return
        target = self.batch_seconds * (1 if appending else IDLE_BATCH_FACTOR)
        aimed = int(done * target / seconds)
        # Change by at most 2x a batch, so one slow commit does not collapse the size.
        self._limit = max(MIN_BATCH, min(self.batch_size, aimed, self._limit * 2))

    def drain(self) -> int:
        """Resolve until the inbox is empty (or another process holds the lease)."""
        total = 0
        while done := self.resolve_batch():
            total += done
        return total

    def resolve_through(self, position: int, *, timeout: float = 30.0) -> None:
        """Resolve until nothing at or below ``position`` waits (another process may be
        the one resolving); ResolutionTimeout past ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            with self.read_session_factory() as session:
                if service.is_resolved(session, position=position):
                    return
            if time.monotonic() > deadline:
                raise ResolutionTimeout(f"position {position} not resolved in {timeout} s")
            if not self.resolve_batch():
                time.sleep(0.02)

    # -- the thread --

    def start(self) -> None:
        """Run the resolver thread in this process (when enabled and not closed)."""
        with self._state:
            if not self.enabled or self._closed:
                return
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(
                target=self._run, name="omnikanal-resolver", daemon=True
            )
            self._thread.start()

    def wake(self) -> None:
        """Something was appended: resolve now rather than at the next poll."""
        self.start()
        self._wake.set()

    def close(self) -> None:
        """Stop the thread after its current batch, and hand the lease over."""
        with self._state:
            self._closed = True
            thread = self._thread
        self._wake.set()
        if thread is None:
            return
        thread.join(timeout=60)
        try:
            with unit_of_work(self.session_factory) as session:
                service.release_resolver_lease(session, holder=self.holder)
        except Exception:
            # It lapses by itself within the lease's seconds.
            logger.exception("could not release the resolver lease")

    @property
    def running(self) -> bool:
        with self._state:
            return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while not self._closed:
            try:
                done = self.resolve_batch()
            except Exception:
                # The batch rolled back; it is tried again (nothing is lost or doubled).
                logger.exception("resolver batch failed; trying again")
                self._wake.wait(FAILURE_PAUSE_SECONDS)
                self._wake.clear()
                continue
            if done:
                # SQLite's one write lock: let waiting appends take it between batches.
                time.sleep(self._pause)
                continue
            self._wake.wait(self.poll_seconds)
            self._wake.clear()
