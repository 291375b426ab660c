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

from sqlalchemy.orm import Session, sessionmaker

from omnikanal.outbox import service as outbox_service


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
