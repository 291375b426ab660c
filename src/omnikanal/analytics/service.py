"""Each report over a fresh snapshot of the hub's history."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar
from uuid import UUID

from sqlalchemy.orm import Session

from omnikanal.analytics import engine as analytics_engine
from omnikanal.analytics import funnels
from omnikanal.analytics.engine import Engine
from omnikanal.analytics.funnels import ChannelMode, Step
from omnikanal.marketing import audiences

T = TypeVar("T")


@contextmanager
def snapshot(session: Session) -> Iterator[Engine]:
    engine = analytics_engine.from_hub(session)
    try:
        yield engine
    finally:
        engine.close()


def report(session: Session, run: Callable[[Engine], T]) -> T:
    with snapshot(session) as engine:
        return run(engine)


def save_stalled(
    session: Session, *, steps: list[Step], mode: ChannelMode, name: str
) -> tuple[UUID | None, int | None, int]:
    """Run the funnel and save the people lost at its largest drop as a fixed-list audience
    for campaigns; (its id, the step, how many). Nobody lost: no audience."""

    def lost(engine: Engine) -> tuple[int | None, list[str]]:
        result = funnels.run(engine, steps, mode, limit=1)
        drop = result.largest_drop
        return drop, funnels.stalled(engine, drop, None) if drop else []

    drop, found = report(session, lost)
    people = [UUID(p) for p in found if p and p != "None"]
    if not people:
        return None, drop, 0
    audience = audiences.create_listed(session, name=name, profile_ids=people)
    return audience.id, drop, len(people)
