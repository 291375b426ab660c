"""The unit of work: one transaction, and the domain events it recorded as outbox rows.

Services record events with ``record_event`` and never commit; the edge (the HTTP
middleware in ``http.py``, a CLI command, a worker job) commits or rolls back, then asks
the relay to run the in-process handlers of what it committed.
"""

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar
from uuid import UUID

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from omnikanal.db import is_read_only
from omnikanal.outbox import service as outbox_service

# Rows a read-only request still has to write (who read a person's data), in session.info.
ROWS_AFTER_READ = "omnikanal_rows_after_read"

# session.info entries that remember what this transaction read or wrote (so a request
# does not read it twice); dropped when the transaction ends, as they may be stale after.
_PER_TRANSACTION: set[str] = set()


def per_transaction(key: str) -> str:
    """Mark a session.info key as living for one transaction; returns the key."""
    _PER_TRANSACTION.add(key)
    return key


@event.listens_for(Session, "after_transaction_end")
def _forget_per_transaction(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        for key in _PER_TRANSACTION:
            session.info.pop(key, None)


@dataclasses.dataclass(frozen=True)
class DomainEvent:
    """Base of every domain event; subclasses set ``type`` ("order.placed")."""

    type: ClassVar[str]

    def payload(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def record_event(session: Session, event: DomainEvent) -> UUID:
    return outbox_service.enqueue(session, event_type=event.type, payload=event.payload()).id


def recorded_event_ids(session: Session) -> list[UUID]:
    ids: list[UUID] = session.info.get(outbox_service.RECORDED_EVENTS, [])
    return list(ids)


def reset_recorded(session: Session) -> None:
    session.info.pop(outbox_service.RECORDED_EVENTS, None)
    session.info.pop(outbox_service.WEBHOOKS_CACHE, None)


def add_record(session: Session, row: object) -> None:
    """Add a small row that is written even when the request only reads (the access log).

    A write session adds it to its own transaction. A read session never writes: on SQLite
    its snapshot would have to become the write lock, which fails at once when another
    writer committed meanwhile. There the row waits, and the edge writes it after the read,
    before the answer is sent (``rows_after_read``)."""
    if is_read_only(session):
        session.info.setdefault(ROWS_AFTER_READ, []).append(row)
    else:
        session.add(row)


def rows_after_read(session: Session) -> list[object]:
    """The rows ``add_record`` kept for the edge, taken out of the session."""
    rows: list[object] = session.info.pop(ROWS_AFTER_READ, [])
    return rows


@contextmanager
def savepoint(session: Session, *, keep: bool = True) -> Iterator[None]:
    """A savepoint in the session's transaction: kept when the block ends, unless ``keep``
    is False (a dry run), rolled back on any exception. The events its work recorded are
    forgotten with it when it rolls back, so they are never handed on after the commit."""
    recorded = list(session.info.get(outbox_service.RECORDED_EVENTS, []))
    nested = session.begin_nested()
    try:
        yield
    except BaseException:
        if nested.is_active:
            nested.rollback()
        session.info[outbox_service.RECORDED_EVENTS] = recorded
        raise
    if keep:
        nested.commit()
    else:
        nested.rollback()
        session.info[outbox_service.RECORDED_EVENTS] = recorded


AfterCommit = Callable[[list[UUID]], None]


@contextmanager
def unit_of_work(
    factory: sessionmaker[Session], *, after_commit: AfterCommit | None = None
) -> Iterator[Session]:
    """Commit on success, roll back on any exception; then hand the committed events on."""
    session = factory()
    try:
        yield session
        session.commit()
        committed = recorded_event_ids(session)
    except BaseException:
        session.rollback()
        raise
    finally:
        reset_recorded(session)
        session.close()
    if after_commit is not None and committed:
        after_commit(committed)
