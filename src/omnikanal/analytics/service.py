"""Each report over a fresh snapshot of the hub's history."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy.orm import Session

from omnikanal.analytics import engine as analytics_engine
from omnikanal.analytics.engine import Engine

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
