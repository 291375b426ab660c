"""The worker's heartbeat: each worker says every few seconds that it is alive, so the
admins' health page can tell whether anything works on timers and deliveries (a backlog
with no beat means no worker runs)."""

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from omnikanal.console.models import WorkerBeat
from omnikanal.db import insert_ignoring_duplicates
from omnikanal.kit.time import utcnow

BEAT_INTERVAL = timedelta(seconds=15)
# A worker whose last beat is older than this is taken for gone.
ALIVE_WITHIN = timedelta(seconds=60)
# Beats of processes gone this long are forgotten.
FORGET_AFTER = timedelta(days=1)


def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:200]


def beat(session: Session) -> None:
    """The periodic job: this worker is alive now."""
    now = utcnow()
    holder = _holder()
    row = session.get(WorkerBeat, holder)
    if row is None:
        insert_ignoring_duplicates(
            session,
            WorkerBeat.__table__,  # type: ignore[arg-type]
            [{"holder": holder, "beat_at": now}],
            keys=["holder"],
        )
    else:
        row.beat_at = now
    session.execute(delete(WorkerBeat).where(WorkerBeat.beat_at < now - FORGET_AFTER))
    session.flush()


@dataclass(frozen=True)
class Workers:
    alive: int
    last_beat_at: datetime | None


def workers(session: Session, *, now: datetime) -> Workers:
    alive = session.scalar(
        select(func.count()).select_from(WorkerBeat).where(WorkerBeat.beat_at >= now - ALIVE_WITHIN)
    )
    last = session.scalar(select(func.max(WorkerBeat.beat_at)))
    return Workers(alive=int(alive or 0), last_beat_at=last)
