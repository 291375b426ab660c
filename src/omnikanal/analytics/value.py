"""Cohorts by first channel with retention, customer value (BG/NBD and Gamma-Gamma), and
satisfaction (CSAT, NPS) by channel, store and month."""

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from omnikanal.analytics import clv
from omnikanal.analytics.engine import Engine, sql
from omnikanal.analytics.stats import Interval, mean_interval, rate, wilson


@dataclass(frozen=True)
class Cohort:
    cohort: str
    first_channel: str
    size: int
    # Share of the cohort that ordered in month 0, 1, 2 ... after their first.
    retention: list[float]


def cohorts(engine: Engine, *, months: int = 12) -> list[Cohort]:
    grouped: dict[tuple[str, str], dict[int, int]] = {}
    for row in engine.rows("cohorts", {"months": months}):
        grouped.setdefault((row["cohort"], row["first_channel"]), {})[int(row["age"])] = int(
            row["active"]
        )
    found = []
    for (cohort, channel), active in sorted(grouped.items()):
        size = active.get(0, 0)
        last = max(active)
        found.append(
            Cohort(
                cohort=cohort,
                first_channel=channel,
                size=size,
                retention=[active.get(age, 0) / size if size else 0.0 for age in range(last + 1)],
            )
        )
    return found


@dataclass(frozen=True)
class PersonValue:
    person: str
    x: int
    p_alive: float
    expected_purchases: float
    expected_spend: float
    clv: float


@dataclass(frozen=True)
class ValueReport:
    people: int
    bgnbd: clv.BgNbd | None
    gamma_gamma: clv.GammaGamma | None
    horizon_weeks: float
    total_clv: float
    top: list[PersonValue]


def rfm(engine: Engine, *, end: date) -> list[dict[str, Any]]:
    return engine.rows("rfm", {"end": end})


def value(engine: Engine, *, end: date, horizon_weeks: float = 52, limit: int = 20) -> ValueReport:
    """Fit both models on the orders up to ``end`` and value each person over the horizon
    (expected purchases times expected spend per purchase, minor units, undiscounted)."""
    rows = rfm(engine, end=end)
    x = np.array([r["x"] for r in rows], dtype=np.float64)
    t_x = np.array([r["t_x"] for r in rows], dtype=np.float64)
    big_t = np.array([r["big_t"] for r in rows], dtype=np.float64)
    mean = np.array([r["mean_value"] for r in rows], dtype=np.float64)
    # Too little history to fit: fewer than a handful of people with a repeat purchase.
    if int((x > 0).sum()) < 3 or int((big_t > 0).sum()) < 3:
        return ValueReport(len(rows), None, None, horizon_weeks, 0.0, [])
    bg = clv.fit_bgnbd(x, t_x, big_t)
    gg = clv.fit_gamma_gamma(x, mean)
    purchases = clv.expected_purchases(bg, horizon_weeks, x, t_x, big_t)
    alive = clv.p_alive(bg, x, t_x, big_t)
    per_purchase = clv.expected_spend(gg, x, mean)
    values = purchases * per_purchase
    order = np.argsort(-values)[:limit]
    return ValueReport(
        people=len(rows),
        bgnbd=bg,
        gamma_gamma=gg,
        horizon_weeks=horizon_weeks,
        total_clv=float(values.sum()),
        top=[
            PersonValue(
                person=str(rows[i]["person"]),
                x=int(x[i]),
                p_alive=float(alive[i]),
                expected_purchases=float(purchases[i]),
                expected_spend=float(per_purchase[i]),
                clv=float(values[i]),
            )
            for i in order
        ],
    )


@dataclass(frozen=True)
class Satisfaction:
    key: str
    answered: int
    # CSAT: share satisfied (4-5). NPS: promoters minus detractors, -1..1.
    score: float | None
    interval: Interval | None
    mean: float | None


_GROUPS = {"channel": "channel", "store": "store", "month": "month"}


def _csat(row: dict[str, Any]) -> Satisfaction:
    answered = int(row["answered"])
    return Satisfaction(
        key=str(row["key"]),
        answered=answered,
        score=rate(int(row["satisfied"]), answered),
        interval=wilson(int(row["satisfied"]), answered),
        mean=None if row["mean"] is None else float(row["mean"]),
    )


def _nps(row: dict[str, Any]) -> Satisfaction:
    n = int(row["answered"])
    promoters, detractors = int(row["promoters"]), int(row["detractors"])
    score = (promoters - detractors) / n if n else None
    # The NPS is a mean of +1/0/-1 answers: its normal interval.
    interval = None
    if n >= 2 and score is not None:
        variance = (promoters + detractors) / n - score * score
        interval = mean_interval(score, float(np.sqrt(max(variance, 0.0) * n / (n - 1))), n)
    return Satisfaction(str(row["key"]), n, score, interval, float(row["mean"]))


def satisfaction(engine: Engine, *, kind: str, by: str) -> list[Satisfaction]:
    group = _GROUPS[by]
    name = "csat" if kind == "csat" else "nps"
    cursor = engine.db.execute(sql(name).format(group=group), {"kind": kind})
    columns = [d[0] for d in cursor.description or ()]
    rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    return [_csat(r) if kind == "csat" else _nps(r) for r in rows]
