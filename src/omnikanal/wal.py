"""SQLite's write-ahead log, copied into the database by a thread of the process.

A commit appends the pages it changed to the log. When the log passes
``wal_autocheckpoint`` pages, SQLite has the committing writer copy it into the database
before its commit returns: 90 ms at the end of the H&M orders import (5 % of it), and a
stall of the same size in whichever request or batch happens to cross the line.

Here a thread does it instead, shortly after commits: a PASSIVE checkpoint on a connection
of its own, which never waits for nor blocks a writer or reader (WAL mode lets them work
on), on the machine's other core. Writers still checkpoint themselves past
``FALLBACK_PAGES``, should the thread fall behind. One thread serves every database of the
process; it starts with the first commit.

SQLite merges the log into the database and deletes it when the last connection closes. If
the thread's connection is open at that moment, its own close does it, a moment later:
``settled`` waits for that, so a disposed engine (``db.make_engine``) leaves the database
whole in its one file, as without the thread; so does an ended process (``stop``).
"""

import atexit
import logging
import os
import sqlite3
import threading
import time
from pathlib import Path

logger = logging.getLogger("omnikanal.db")

# Commits within this long of each other share one checkpoint.
DELAY_SECONDS = 0.25
# Where a writer checkpoints itself after all (pages of 4 KiB: about 160 MB).
FALLBACK_PAGES = 40_000


class Checkpointer:
    """Checkpoints of the databases whose commits ``committed`` was told of."""

    def __init__(self, delay: float = DELAY_SECONDS) -> None:
        self.delay = delay
        self._lock = threading.Lock()
        self._wanted = threading.Event()
        self._paths: set[str] = set()
        self._thread: threading.Thread | None = None
        # Held while the thread checkpoints (its connections open).
        self._checkpointing = threading.Lock()
        self._stopped = False

    def committed(self, path: str) -> None:
        """A transaction committed (or is about to) in the database at ``path``."""
        with self._lock:
            self._paths.add(path)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="omnikanal-wal-checkpoints", daemon=True
                )
                self._thread.start()
        self._wanted.set()

    def _run(self) -> None:
        while True:
            self._wanted.wait()
            time.sleep(self.delay)
            self._wanted.clear()
            with self._checkpointing:
                if self._stopped:
                    return
                with self._lock:
                    paths, self._paths = self._paths, set()
                for path in sorted(paths):
                    checkpoint(path)

    def settled(self) -> None:
        """Wait for a checkpoint under way to end (its connection closed)."""
        with self._checkpointing:
            pass

    def stop(self) -> None:
        """Wait for a checkpoint under way to end, and start none after it."""
        with self._checkpointing:
            self._stopped = True


def checkpoint(path: str) -> bool:
    """Copy what the log holds into the database as far as no reader needs it, waiting for
    nothing; False when it could not run (the database deleted meanwhile: ``mode=rw``
    never makes a new one; or locked for a moment by a writer resetting the log)."""
    try:
        connection = sqlite3.connect(f"{Path(path).as_uri()}?mode=rw", uri=True, timeout=0)
    except sqlite3.Error:
        return False
    try:
        connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return True
    except sqlite3.Error as exc:
        logger.debug("checkpoint of %s skipped: %s", path, exc)
        return False
    finally:
        connection.close()


CHECKPOINTS = Checkpointer()


def _fresh_after_fork() -> None:
    # A forked child has none of its parent's threads, and a lock another thread held at
    # the fork stays held in it: the child starts its own.
    global CHECKPOINTS
    CHECKPOINTS = Checkpointer()


def _stop() -> None:
    CHECKPOINTS.stop()


os.register_at_fork(after_in_child=_fresh_after_fork)
# The thread is a daemon: it must not be stopped with a checkpoint's connection open.
atexit.register(_stop)
