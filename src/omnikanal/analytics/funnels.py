"""Funnels: ordered steps (an event name or an order, channels, property filters), a
conversion window per step, and a channel mode across steps.

A touch reaches step k when a touch that reached step k-1 came before it within step k's
window (and, by mode, on the same channel or on another). Merged people count once: the
engine has put every touch under the surviving profile.
"""

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from omnikanal.analytics.engine import Engine, sql
from omnikanal.analytics.stats import Interval, rate, wilson


class ChannelMode(StrEnum):
    ANY = "any"
    SAME = "same"
    SWITCH = "switch"


@dataclass(frozen=True)
class Step:
    """``kind`` is "event" (a track call named ``event``) or "order" (an order the hub
    took, e.g. a till purchase with ``channels=("pos",)``)."""

    event: str | None = None
    kind: str = "event"
    channels: tuple[str, ...] = ()
    where: dict[str, str] = field(default_factory=dict)
    # Seconds after the step before; None: no limit. Ignored on the first step.
    within: int | None = None

    @property
    def label(self) -> str:
        name = self.event or ("order" if self.kind == "order" else "any event")
        return f"{name} on {'/'.join(self.channels)}" if self.channels else name


@dataclass(frozen=True)
class StepResult:
    step: int
    label: str
    entered: int
    reached: int
    conversion: float | None
    interval: Interval | None
    median_seconds: float | None


@dataclass(frozen=True)
class Breakdown:
    key: str
    entered: int
    completed: int
    conversion: float | None


@dataclass(frozen=True)
class FunnelResult:
    mode: ChannelMode
    steps: list[StepResult]
    overall: float | None
    overall_interval: Interval | None
    by_path: list[Breakdown]
    by_store: list[Breakdown]
    # The step (2 or later) that lost the most people, how many, and who (the first
    # ``limit`` of them by id; all of them are saved as an audience on request).
    largest_drop: int | None
    stalled_count: int
    stalled: list[str]


def _touches(step: Step) -> tuple[str, dict[str, Any]]:
    """The query of a step's touches and its parameters. Only parameter names are written
    into the text; every value (event, channels, property names and values) is bound."""
    params: dict[str, Any] = {
        "kind": step.kind,
        "event": step.event,
        "channels": list(step.channels) or None,
    }
    filters: list[str] = []
    for n, (key, value) in enumerate(sorted(step.where.items())):
        params[f"f{n}"] = value
        if key == "location":
            filters.append(f"AND location = $f{n}")
        else:
            params[f"k{n}"] = f'$."{key}"'
            filters.append(f"AND json_extract_string(properties, $k{n}) = $f{n}")
    return sql("funnel_touches").format(filters="\n  ".join(filters)), params


def _run(engine: Engine, name: str, step: Step, params: dict[str, Any]) -> None:
    touches, bound = _touches(step)
    engine.db.execute(sql(name).format(touches=touches), {**params, **bound})


def reach(engine: Engine, steps: list[Step], mode: ChannelMode) -> None:
    """Fill ``funnel_reach``: every touch that reached each step."""
    _run(engine, "funnel_first", steps[0], {})
    for index, step in enumerate(steps[1:], start=2):
        within_us = None if step.within is None else step.within * 1_000_000
        _run(engine, f"funnel_step_{mode.value}", step, {"step": index, "within_us": within_us})


def _people(engine: Engine, steps: list[Step]) -> None:
    """The per-person tables the reports read (``funnel_people.sql``)."""
    # Step numbers only (no caller's text) go into the query.
    path = ", ".join(f"max(channel) FILTER (WHERE step = {n})" for n in range(1, len(steps) + 1))
    engine.script("funnel_people", fill={"path": f"concat_ws(' > ', {path})"})


def _breakdown(rows: list[dict[str, Any]], key: str) -> list[Breakdown]:
    return [
        Breakdown(
            key=str(row[key]),
            entered=row["entered"],
            completed=row["completed"],
            conversion=rate(row["completed"], row["entered"]),
        )
        for row in rows
    ]


def _step_results(engine: Engine, steps: list[Step]) -> list[StepResult]:
    found = {row["step"]: row for row in engine.rows("funnel_result")}
    results: list[StepResult] = []
    entered = found.get(1, {}).get("reached", 0)
    for index, step in enumerate(steps, start=1):
        reached = found.get(index, {}).get("reached", 0)
        median = found.get(index, {}).get("median_seconds")
        results.append(
            StepResult(
                step=index,
                label=step.label,
                entered=entered,
                reached=reached,
                conversion=rate(reached, entered),
                interval=wilson(reached, entered),
                median_seconds=None if index == 1 or median is None else float(median),
            )
        )
        entered = reached
    return results


def _largest_drop(results: list[StepResult]) -> int | None:
    drops = [(r.entered - r.reached, -r.step) for r in results[1:] if r.entered > r.reached]
    return -max(drops)[1] if drops else None


def stalled(engine: Engine, step: int, limit: int | None) -> list[str]:
    """Who reached step ``step`` - 1 and not ``step`` (after ``reach``)."""
    rows = engine.rows("funnel_stalled", {"step": step, "limit": limit})
    return [str(row["person"]) for row in rows]


def run(
    engine: Engine,
    steps: list[Step],
    mode: ChannelMode = ChannelMode.ANY,
    limit: int = 20,
    stalled_limit: int | None = None,
) -> FunnelResult:
    """``limit``: rows of each breakdown, and the stalled people listed unless
    ``stalled_limit`` says otherwise (None there: ``limit``)."""
    reach(engine, steps, mode)
    _people(engine, steps)
    results = _step_results(engine, steps)
    params = {"steps": len(steps), "limit": limit}
    drop = _largest_drop(results)
    lost = results[drop - 1] if drop else None
    first, last = results[0], results[-1]
    return FunnelResult(
        mode=mode,
        steps=results,
        overall=rate(last.reached, first.reached),
        overall_interval=wilson(last.reached, first.reached),
        by_path=_breakdown(engine.rows("funnel_paths", params), "path"),
        by_store=_breakdown(engine.rows("funnel_stores", params), "store"),
        largest_drop=drop,
        stalled_count=lost.entered - lost.reached if lost else 0,
        stalled=stalled(engine, drop, stalled_limit or limit) if drop else [],
    )
