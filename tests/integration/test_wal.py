"""SQLite's log is copied into the database by the process's thread, not by a writer."""

import contextlib
import os
import shutil
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine

from omnikanal import wal
from omnikanal.db import make_engine, make_session_factory
from omnikanal.uow import unit_of_work

ROWS = 2000  # about 2 MB: far from any checkpoint threshold of SQLite's own


@pytest.fixture
def checkpointer(monkeypatch: pytest.MonkeyPatch) -> wal.Checkpointer:
    # Its own thread, slower than the default: the log can be looked at before it runs.
    own = wal.Checkpointer(delay=0.5)
    monkeypatch.setattr(wal, "CHECKPOINTS", own)
    return own


def _write(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
            "INSERT INTO blobs SELECT randomblob(1000) FROM n",
            (ROWS,),
        )


def _database_grows_past(path: Path, size: int, *, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if path.stat().st_size >= size:
            return True
        time.sleep(0.05)
    return False


def test_a_commit_is_checkpointed_soon_after_by_the_thread(
    tmp_path: Path, checkpointer: wal.Checkpointer
) -> None:
    path = tmp_path / "hub.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE blobs (data BLOB)")
            (pages,) = connection.exec_driver_sql("PRAGMA wal_autocheckpoint").one()
        assert pages == wal.FALLBACK_PAGES
        _write(engine)
        # Committed into the log; the database file has not got the pages yet.
        assert path.stat().st_size < ROWS * 1000
        assert _database_grows_past(path, ROWS * 1000, within=10)
    finally:
        engine.dispose()


class Recording(wal.Checkpointer):
    def __init__(self) -> None:
        super().__init__()
        self.told: list[str] = []

    def committed(self, path: str) -> None:
        self.told.append(path)


def test_a_write_asks_for_a_checkpoint_and_a_read_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recording = Recording()
    monkeypatch.setattr(wal, "CHECKPOINTS", recording)
    path = tmp_path / "hub.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        with unit_of_work(make_session_factory(engine)) as session:
            session.connection().exec_driver_sql("CREATE TABLE blobs (data BLOB)")
        assert recording.told == [str(path.resolve())]
        with make_session_factory(engine, read_only=True)() as session, session.begin():
            session.connection().exec_driver_sql("SELECT count(*) FROM blobs").one()
        assert recording.told == [str(path.resolve())]
    finally:
        engine.dispose()


def test_a_checkpoint_of_a_database_gone_makes_no_new_one(tmp_path: Path) -> None:
    gone = tmp_path / "gone.db"
    assert wal.checkpoint(str(gone)) is False
    assert not gone.exists()


def test_a_forked_child_checkpoints_with_a_thread_of_its_own(tmp_path: Path) -> None:
    wal.CHECKPOINTS.committed(str(tmp_path / "parent.db"))  # the parent's thread runs
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child: a checkpointer of its own, its thread not yet started
        fresh = wal.CHECKPOINTS._thread is None
        os.write(write, b"1" if fresh else b"0")
        os._exit(0)
    os.waitpid(child, 0)
    assert os.read(read, 1) == b"1"


def test_a_disposed_engine_leaves_every_commit_in_the_database_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite merges the log into the file when its last connection closes. Were the
    thread's connection open then (a busy machine), the merge would wait for it: a copy of
    the file alone, as a backup or the tests' template makes, would miss what the log held.
    Dispose waits for the thread, so the file is whole when it returns."""
    opened = threading.Event()

    def slow_checkpoint(path: str) -> bool:  # its connection closed long after its work
        connection = sqlite3.connect(path)
        connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        opened.set()
        time.sleep(0.5)
        connection.close()
        return True

    monkeypatch.setattr(wal, "CHECKPOINTS", wal.Checkpointer(delay=0))
    monkeypatch.setattr(wal, "checkpoint", slow_checkpoint)
    path = tmp_path / "hub.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE blobs (data BLOB)")
    _write(engine)
    assert opened.wait(timeout=10)
    engine.dispose()

    copy = tmp_path / "copy.db"
    shutil.copyfile(path, copy)
    with contextlib.closing(sqlite3.connect(copy)) as copied:
        assert copied.execute("SELECT count(*) FROM blobs").fetchone() == (ROWS,)
