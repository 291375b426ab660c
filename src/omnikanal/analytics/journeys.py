"""Webrooming (research online, buy in the store), showrooming (see in the store, buy
online), and what omnichannel people spend against single-channel ones."""

from dataclasses import dataclass
from typing import Any

from omnikanal.analytics.engine import Engine, sql
from omnikanal.analytics.stats import Interval, mean_interval, rate, wilson

WINDOWS = (7, 14, 30)
ONLINE = ["web", "app"]
STORE = "pos"


@dataclass(frozen=True)
class Rate:
    days: int
    count: int
    rate: float | None
    interval: Interval | None


@dataclass(frozen=True)
class RateRow:
    key: str
    total: int
    rates: list[Rate]


@dataclass(frozen=True)
class RoomingReport:
    """``total`` purchases looked at; each window's share that qualified."""

    overall: RateRow
    by: dict[str, list[RateRow]]


def _rate_row(row: dict[str, Any]) -> RateRow:
    total = int(row["total"])
    return RateRow(
        key=str(row["key"]),
        total=total,
        rates=[
            Rate(
                days=days,
                count=int(row[f"within_{days}"]),
                rate=rate(int(row[f"within_{days}"]), total),
                interval=wilson(int(row[f"within_{days}"]), total),
            )
            for days in WINDOWS
        ],
    )


def _rates(engine: Engine, source: str, group: str, limit: int) -> list[RateRow]:
    # ``source`` and ``group`` come from the fixed lists below, never from a caller.
    query = sql("rates").format(source=source, group=group)
    cursor = engine.db.execute(query, {"limit": limit})
    columns = [d[0] for d in cursor.description or ()]
    return [_rate_row(dict(zip(columns, row, strict=True))) for row in cursor.fetchall()]


def _report(engine: Engine, source: str, groups: tuple[str, ...], limit: int) -> RoomingReport:
    overall = _rates(engine, source, "'all'", 1)
    empty = RateRow(key="all", total=0, rates=[Rate(d, 0, None, None) for d in WINDOWS])
    return RoomingReport(
        overall=overall[0] if overall else empty,
        by={group: _rates(engine, source, group, limit) for group in groups},
    )


def webrooming(engine: Engine, *, by_category: bool = False, limit: int = 20) -> RoomingReport:
    """Till purchase lines whose SKU (or category) the person viewed online in the N days
    before, N = 7, 14, 30; by SKU, category, store and month."""
    engine.script(
        "webrooming",
        {"online": ONLINE, "store_channel": STORE, "by_category": by_category},
    )
    return _report(engine, "webrooming", ("sku", "category", "store", "month"), limit)


def showrooming(engine: Engine, *, limit: int = 20) -> RoomingReport:
    """Online orders with an in-store touch in the N days before; by the store of that
    touch and by month."""
    engine.script("showrooming", {"online": ONLINE, "store_channel": STORE})
    return _report(engine, "showrooming", ("store", "month"), limit)


@dataclass(frozen=True)
class Spend:
    omnichannel: bool
    n: int
    people: int
    mean: float | None
    interval: Interval | None


@dataclass(frozen=True)
class SpendComparison:
    """Mean spend (minor units) per store visit, per online order and per customer, for
    omnichannel and single-channel people, and how much more the omnichannel spend."""

    measure: str
    omnichannel: Spend
    single_channel: Spend
    difference: float | None


def spend(engine: Engine) -> list[SpendComparison]:
    rows = engine.rows("spend", {"online": ONLINE, "store_channel": STORE})
    found = {(row["measure"], row["omnichannel"]): row for row in rows}

    def one(measure: str, omni: bool) -> Spend:
        row = found.get((measure, omni))
        if row is None:
            return Spend(omni, 0, 0, None, None)
        mean = float(row["mean"])
        sd = None if row["sd"] is None else float(row["sd"])
        return Spend(
            omni, int(row["n"]), int(row["people"]), mean, mean_interval(mean, sd, row["n"])
        )

    comparisons = []
    for measure in ("store_visit", "online_order", "customer"):
        omni, single = one(measure, True), one(measure, False)
        difference = omni.mean / single.mean - 1 if omni.mean is not None and single.mean else None
        comparisons.append(SpendComparison(measure, omni, single, difference))
    return comparisons
