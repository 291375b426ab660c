"""Retention: what is past its time is deleted or blanked, a little at a time.

Each domain removes its own rows through its service; this module only decides the
cut-off of each kind of data (``OMNIKANAL_RETENTION_*_DAYS``, 0 keeps it forever) and
paces the work: batches of ``OMNIKANAL_RETENTION_BATCH_SIZE`` rows, each committed on its
own, with a pause between them, so ingestion and the resolver take the database (on SQLite
its one write lock) in between; at most ``OMNIKANAL_RETENTION_MAX_ROWS_PER_RUN`` rows per
kind in one run, the rest in the next. The worker runs it every ``INTERVAL``; ``omnikanal
retention run`` runs it once now.

The run is an edge of its own, as the worker's delivery is: it commits each batch itself.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.orm import Session

from omnikanal.config import Settings, settings_of
from omnikanal.conversations import service as conversations_service
from omnikanal.events import service as events_service
from omnikanal.kit.time import utcnow
from omnikanal.marketing import service as marketing_service
from omnikanal.notifications import service as notifications_service

INTERVAL = timedelta(minutes=10)


class Purge(Protocol):
    """A domain's removal of up to ``limit`` rows (or files) older than ``before``; returns
    how many. It flushes; the run commits."""

    def __call__(self, session: Session, *, before: datetime, limit: int) -> int: ...


# Told after each committed batch: which kind, and how many it removed.
Progress = Callable[["Kind", int], None]


@dataclass(frozen=True)
class Kind:
    """One kind of data with its own retention."""

    name: str
    description: str
    days: int
    purge: Purge


@dataclass
class Report:
    """What one run removed, per kind; kinds kept forever are listed in ``kept``."""

    removed: dict[str, int] = field(default_factory=dict)
    batches: dict[str, list[int]] = field(default_factory=dict)
    kept: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.removed.values())


def kinds(settings: Settings) -> list[Kind]:
    return [
        Kind(
            "events",
            "raw events",
            settings.retention_event_days,
            events_service.purge_events,
        ),
        Kind(
            "conversation_messages",
            "conversation messages",
            settings.retention_conversation_days,
            conversations_service.purge_stale_messages,
        ),
        Kind(
            "message_bodies",
            "rendered message bodies",
            settings.retention_message_days,
            marketing_service.purge_message_bodies,
        ),
        Kind(
            "mail_files",
            ".eml files",
            settings.retention_message_days,
            marketing_service.purge_mail_files,
        ),
        Kind(
            "notification_bodies",
            "notification bodies",
            settings.retention_notification_days,
            notifications_service.purge_bodies,
        ),
    ]


def run(
    session: Session,
    settings: Settings,
    *,
    now: datetime | None = None,
    progress: Progress | None = None,
    pause: Callable[[float], None] = time.sleep,
) -> Report:
    """One run over every kind, each batch committed on its own."""
    now = now or utcnow()
    report = Report()
    for kind in kinds(settings):
        if kind.days == 0:
            report.kept.append(kind.name)
            continue
        before = now - timedelta(days=kind.days)
        batches = report.batches.setdefault(kind.name, [])
        while True:
            left = settings.retention_max_rows_per_run - sum(batches)
            limit = min(settings.retention_batch_size, left)
            count = kind.purge(session, before=before, limit=limit)
            session.commit()
            if count:
                batches.append(count)
            if progress is not None:
                progress(kind, count)
            # Done when a batch came back short, or the run's share is used up.
            if count < limit or limit == left:
                break
            pause(settings.retention_batch_pause_seconds)
        report.removed[kind.name] = sum(batches)
    return report


def run_job(session: Session) -> None:
    """Periodic, in the worker."""
    run(session, settings_of(session))
