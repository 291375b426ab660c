"""Which in-process handlers react to which domain events, timers and periodic jobs.

Plumbing: it holds whatever it is given and imports no domain. The edge fills it
(``omnikanal.wiring.build_registry``); never a module-level global, so tests can use their own.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from omnikanal.timers.models import Timer


@dataclass(frozen=True)
class PublishedEvent:
    """What a handler receives: the stored event."""

    id: UUID
    type: str
    payload: dict[str, Any]
    occurred_at: datetime


Handler = Callable[[Session, PublishedEvent], None]
TimerHandler = Callable[[Session, "Timer"], None]
PeriodicJob = Callable[[Session], None]


@dataclass
class HandlerRegistry:
    _by_name: dict[str, Handler] = field(default_factory=dict)
    _by_type: dict[str, list[str]] = field(default_factory=dict)
    _timers: dict[str, TimerHandler] = field(default_factory=dict)
    _periodic: dict[str, tuple[timedelta, PeriodicJob]] = field(default_factory=dict)

    def subscribe(self, event_type: str, name: str, handler: Handler) -> None:
        """``name`` identifies the handler in delivery rows; keep it stable across releases."""
        if name in self._by_name and self._by_name[name] is not handler:
            raise ValueError(f"handler name {name!r} is already taken")
        self._by_name[name] = handler
        names = self._by_type.setdefault(event_type, [])
        if name not in names:
            names.append(name)

    def names_for(self, event_type: str) -> list[str]:
        return list(self._by_type.get(event_type, ()))

    def get(self, name: str) -> Handler | None:
        return self._by_name.get(name)

    def on_timer(self, kind: str, handler: TimerHandler) -> None:
        self._timers[kind] = handler

    def timer_handler(self, kind: str) -> TimerHandler | None:
        return self._timers.get(kind)

    def every(self, name: str, interval: timedelta, job: PeriodicJob) -> None:
        """A job each worker runs about every ``interval``; it must be safe to run twice."""
        self._periodic[name] = (interval, job)

    def periodic_jobs(self) -> dict[str, tuple[timedelta, PeriodicJob]]:
        return dict(self._periodic)
