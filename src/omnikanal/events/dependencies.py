"""Read-your-writes on demand: a read given an ingest position waits until it is resolved.

Ingestion acknowledges a durable append and answers with ``Omnikanal-Position``; the
people are placed later, by the resolver. A read that must see its own write passes that
position back (query ``after=`` or the same header) and waits, bounded, until resolution
has passed it. Without a position a read is eventual and never waits.
"""

from enum import StrEnum
from typing import Annotated

import anyio
from fastapi import Depends, Header, Query, Request
from sqlalchemy.orm import Session, sessionmaker

from omnikanal.errors import ServiceUnavailable
from omnikanal.events import service
from omnikanal.http import get_session
from omnikanal.openapi import RETRY_AFTER_HEADER, Answer, answers

POSITION_HEADER = "Omnikanal-Position"
# Positions are 64-bit integers in both databases; a larger one cannot be stored.
MAX_POSITION = 2**63 - 1
# Short first, then capped: a resolved position is seen within a few milliseconds, and a
# long wait costs one short query every 50 ms.
FIRST_PAUSE_SECONDS = 0.005
LONGEST_PAUSE_SECONDS = 0.05
RETRY_AFTER_SECONDS = 1


class ResolutionErrorCode(StrEnum):
    PENDING = "resolution_pending"


AFTER_DESCRIPTION = (
    "Read your own write: the `Omnikanal-Position` an ingest answer carried. The read "
    "waits (at most OMNIKANAL_READ_WAIT_SECONDS, 2 s by default) until every message at "
    "or below it is placed with its person, else answers 503 `resolution_pending` with "
    "`Retry-After`. Without it the read is eventual."
)


def _resolved(factory: sessionmaker[Session], position: int) -> bool:
    with factory() as session:
        return service.is_resolved(session, position=position)


def _end_transaction(session: Session) -> None:
    # Gives the request's connection back while it waits, and makes its next query start
    # a new snapshot (SQLite's would otherwise predate the resolution waited for).
    if session.in_transaction():
        session.rollback()


async def wait_until_resolved(
    factory: sessionmaker[Session], *, position: int, timeout: float
) -> bool:
    """Whether resolution passed ``position`` within ``timeout`` seconds; the event loop
    stays free while it waits (each check runs in a worker thread)."""
    deadline = anyio.current_time() + timeout
    pause = FIRST_PAUSE_SECONDS
    while not await anyio.to_thread.run_sync(_resolved, factory, position):
        left = deadline - anyio.current_time()
        if left <= 0:
            return False
        await anyio.sleep(min(pause, left))
        pause = min(pause * 2, LONGEST_PAUSE_SECONDS)
    return True


PENDING_ANSWER = Answer(
    why="Given a position (`after` or `Omnikanal-Position`), the messages up to it were "
    "not placed with their people within the wait: `resolution_pending`; ask again after "
    "`Retry-After` seconds.",
    headers=RETRY_AFTER_HEADER,
)


@answers({503: PENDING_ANSWER})
async def resolved_through(
    request: Request,
    after: Annotated[
        int | None, Query(ge=0, le=MAX_POSITION, description=AFTER_DESCRIPTION)
    ] = None,
    header_position: Annotated[
        int | None,
        Header(
            alias=POSITION_HEADER,
            ge=0,
            le=MAX_POSITION,
            description="The same as `after`, as a header (the later of the two counts).",
        ),
    ] = None,
) -> int | None:
    """The position this read waited for, or None when it was not given one."""
    given = [p for p in (after, header_position) if p is not None]
    if not given:
        return None
    position = max(given)
    await anyio.to_thread.run_sync(_end_transaction, get_session(request))
    state = request.app.state
    if not await wait_until_resolved(
        state.read_session_factory,
        position=position,
        timeout=state.settings.read_wait_seconds,
    ):
        raise ServiceUnavailable(
            ResolutionErrorCode.PENDING,
            f"Messages up to position {position} are not placed with their people yet; "
            f"retry in {RETRY_AFTER_SECONDS} s, or read without a position for what is "
            "placed now.",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            position=position,
        )
    return position


ResolvedThrough = Annotated[int | None, Depends(resolved_through)]
