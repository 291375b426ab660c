"""Channel paths before a purchase, and who gets the credit for it (first, last, linear,
position-based 40/20/40), with stores as touchpoints of their own."""

from dataclasses import dataclass

from omnikanal.analytics.engine import Engine
from omnikanal.analytics.journeys import STORE
from omnikanal.analytics.stats import rate


@dataclass(frozen=True)
class PathRow:
    path: str
    journeys: int
    converted: int
    conversion: float | None
    revenue: int


@dataclass(frozen=True)
class Credit:
    touchpoint: str
    first_touch: float
    last_touch: float
    linear: float
    position_based: float
    first_touch_revenue: float
    last_touch_revenue: float
    linear_revenue: float
    position_based_revenue: float


@dataclass(frozen=True)
class PathsReport:
    paths: list[PathRow]
    attribution: list[Credit]


def paths(engine: Engine, *, limit: int = 20) -> PathsReport:
    engine.script("journeys", {"store_channel": STORE})
    rows = engine.rows("paths", {"limit": limit})
    return PathsReport(
        paths=[
            PathRow(
                path=row["path"],
                journeys=int(row["journeys"]),
                converted=int(row["converted"]),
                conversion=rate(int(row["converted"]), int(row["journeys"])),
                revenue=int(row["revenue"] or 0),
            )
            for row in rows
        ],
        attribution=[
            Credit(
                touchpoint=str(row.pop("touchpoint")),
                **{k: float(v or 0) for k, v in row.items()},
            )
            for row in engine.rows("attribution")
        ],
    )
