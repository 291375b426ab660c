"""``omnikanal analytics funnel|webrooming|paths|cohorts|clv|satisfaction``: the reports
as Rich tables, over the hub's database or (``--parquet DIR``) a Parquet export."""

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Literal, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from omnikanal.analytics import engine as analytics_engine
from omnikanal.analytics import funnels, journeys, paths, value
from omnikanal.analytics.engine import Engine
from omnikanal.analytics.stats import Interval
from omnikanal.config import Settings
from omnikanal.db import make_engine, make_session_factory

analytics_app = typer.Typer(
    help="Journeys across store and online: funnels, webrooming, paths, cohorts, value.",
    no_args_is_help=True,
)
console = Console(soft_wrap=True)
T = TypeVar("T")
Rooming = tuple[journeys.RoomingReport, journeys.RoomingReport, list[journeys.SpendComparison]]
ParquetOption = Annotated[
    Path | None, typer.Option("--parquet", help="Read this Parquet export folder instead.")
]
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_STEP = re.compile(r"^(?P<name>[^@~]+)(@(?P<channels>[^~]+))?(~(?P<n>\d+)(?P<unit>[smhd]))?$")


@contextmanager
def _engine(parquet: Path | None) -> Iterator[Engine]:
    if parquet is not None:
        if not parquet.is_dir():
            raise typer.BadParameter(f"no folder at {parquet}", param_hint="--parquet")
        engine = analytics_engine.from_parquet(parquet)
    else:
        settings = Settings()
        factory = make_session_factory(make_engine(settings.resolved_database_url()))
        with factory() as session:
            engine = analytics_engine.from_hub(session)
    try:
        yield engine
    finally:
        engine.close()


def _run(parquet: Path | None, run: Callable[[Engine], T]) -> T:
    with _engine(parquet) as engine:
        return run(engine)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _ci(interval: Interval | None) -> str:
    return "–" if interval is None else f"{interval.low:.1%}–{interval.high:.1%}"


def _spend(found: journeys.Spend) -> str:
    return "–" if found.mean is None else f"{found.mean:,.0f} (n {found.n})"


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title)
    for index, column in enumerate(columns):
        table.add_column(column, justify="left" if index == 0 else "right")
    return table


def parse_step(spec: str) -> funnels.Step:
    """``NAME[@CHANNEL,CHANNEL][~WITHIN]``: ``Product Viewed@web``, ``order@pos~7d``."""
    found = _STEP.match(spec.strip())
    if found is None:
        raise typer.BadParameter(f"{spec!r}: use NAME[@CHANNELS][~7d]", param_hint="--step")
    name = found["name"].strip()
    channels = tuple(c.strip() for c in (found["channels"] or "").split(",") if c.strip())
    within = int(found["n"]) * _UNITS[found["unit"]] if found["n"] else None
    if name == "order":
        return funnels.Step(kind="order", channels=channels, within=within)
    return funnels.Step(event=name, channels=channels, within=within)


@analytics_app.command("funnel")
def funnel(
    step: Annotated[
        list[str],
        typer.Option(help="A step, in order: NAME[@CHANNELS][~WITHIN], 'order' for orders."),
    ],
    mode: Annotated[funnels.ChannelMode, typer.Option()] = funnels.ChannelMode.ANY,
    parquet: ParquetOption = None,
) -> None:
    """People through ordered steps, with conversion, intervals and time between steps."""
    steps = [parse_step(spec) for spec in step]
    result = _run(parquet, lambda e: funnels.run(e, steps, mode))
    table = _table(
        f"Funnel ({mode.value} channel)",
        "step",
        "entered",
        "reached",
        "conversion",
        "95 % CI",
        "median time",
    )
    for row in result.steps:
        median = "–" if row.median_seconds is None else f"{row.median_seconds / 3600:.1f} h"
        table.add_row(
            f"{row.step}. {row.label}",
            str(row.entered),
            str(row.reached),
            _pct(row.conversion),
            _ci(row.interval),
            median,
        )
    console.print(table)
    console.print(f"overall {_pct(result.overall)} ({_ci(result.overall_interval)})")
    if result.largest_drop:
        console.print(
            f"largest drop before step {result.largest_drop}: {result.stalled_count} people stalled"
        )
    paths_table = _table("By channel path", "path", "entered", "completed", "conversion")
    for b in result.by_path:
        paths_table.add_row(b.key, str(b.entered), str(b.completed), _pct(b.conversion))
    console.print(paths_table)


def _rooming(title: str, report: journeys.RoomingReport) -> None:
    for group, rows in [("all", [report.overall]), *report.by.items()]:
        table = _table(f"{title} by {group}", group, "purchases", "7 days", "14 days", "30 days")
        for row in rows:
            table.add_row(
                row.key,
                str(row.total),
                *(f"{_pct(r.rate)} ({_ci(r.interval)})" for r in row.rates),
            )
        console.print(table)


@analytics_app.command("webrooming")
def webrooming(
    by_category: Annotated[bool, typer.Option(help="Match a view by category, not SKU.")] = False,
    parquet: ParquetOption = None,
) -> None:
    """Webrooming (online, then the till) and showrooming (the store, then online)."""

    def run(e: Engine) -> Rooming:
        web = journeys.webrooming(e, by_category=by_category)
        return web, journeys.showrooming(e), journeys.spend(e)

    web, show, spend = _run(parquet, run)
    _rooming("Webrooming", web)
    _rooming("Showrooming", show)
    table = _table("Spend (minor units)", "per", "omnichannel", "single channel", "difference")
    for c in spend:
        table.add_row(
            c.measure,
            "–"
            if c.omnichannel.mean is None
            else f"{c.omnichannel.mean:,.0f} (n {c.omnichannel.n})",
            "–"
            if c.single_channel.mean is None
            else f"{c.single_channel.mean:,.0f} (n {c.single_channel.n})",
            "–" if c.difference is None else f"{c.difference:+.1%}",
        )
    console.print(table)


@analytics_app.command("paths")
def channel_paths(limit: int = 20, parquet: ParquetOption = None) -> None:
    """Top channel paths before a purchase, and attribution by touchpoint."""
    report = _run(parquet, lambda e: paths.paths(e, limit=limit))
    table = _table("Channel paths", "path", "journeys", "converted", "conversion", "revenue")
    for p in report.paths:
        table.add_row(
            p.path, str(p.journeys), str(p.converted), _pct(p.conversion), f"{p.revenue:,}"
        )
    console.print(table)
    credit = _table(
        "Attribution (orders credited)", "touchpoint", "first", "last", "linear", "40/20/40"
    )
    for c in report.attribution:
        credit.add_row(
            c.touchpoint,
            f"{c.first_touch:.1f}",
            f"{c.last_touch:.1f}",
            f"{c.linear:.1f}",
            f"{c.position_based:.1f}",
        )
    console.print(credit)


@analytics_app.command("cohorts")
def cohorts(months: int = 6, parquet: ParquetOption = None) -> None:
    """Monthly cohorts by first channel, with the share ordering again each month after."""
    found = _run(parquet, lambda e: value.cohorts(e, months=months))
    table = _table(
        "Cohorts", "cohort", "first channel", "size", *(f"m{k}" for k in range(months + 1))
    )
    for c in found:
        cells = [_pct(r) for r in c.retention] + [""] * (months + 1 - len(c.retention))
        table.add_row(c.cohort, c.first_channel, str(c.size), *cells)
    console.print(table)


@analytics_app.command("clv")
def clv(
    end: Annotated[str | None, typer.Option(help="Last day of history (ISO date).")] = None,
    horizon_weeks: float = 52,
    limit: int = 10,
    parquet: ParquetOption = None,
) -> None:
    """BG/NBD and Gamma-Gamma: the parameters, and the people worth most."""
    until = date.fromisoformat(end) if end else datetime.now(UTC).date()
    report = _run(
        parquet, lambda e: value.value(e, end=until, horizon_weeks=horizon_weeks, limit=limit)
    )
    if report.bgnbd is None or report.gamma_gamma is None:
        console.print(f"{report.people} people: too few repeat purchases to fit.")
        return
    bg, gg = report.bgnbd, report.gamma_gamma
    console.print(
        f"BG/NBD r {bg.r:.3f} α {bg.alpha:.3f} a {bg.a:.3f} b {bg.b:.3f}; "
        f"Gamma-Gamma p {gg.p:.3f} q {gg.q:.3f} γ {gg.gamma:.3f}; {report.people} people, "
        f"total {report.total_clv:,.0f} over {horizon_weeks:g} weeks"
    )
    table = _table(
        "Most valuable", "person", "repeat", "P(alive)", "purchases", "per purchase", "value"
    )
    for p in report.top:
        table.add_row(
            p.person,
            str(p.x),
            f"{p.p_alive:.2f}",
            f"{p.expected_purchases:.2f}",
            f"{p.expected_spend:,.0f}",
            f"{p.clv:,.0f}",
        )
    console.print(table)


@analytics_app.command("satisfaction")
def satisfaction(
    kind: Annotated[str, typer.Option(help="csat or nps")] = "csat",
    by: Annotated[str, typer.Option(help="channel, store or month")] = "month",
    parquet: ParquetOption = None,
) -> None:
    """CSAT (share satisfied) or NPS (promoters minus detractors) with 95 % intervals."""
    if kind not in ("csat", "nps"):
        raise typer.BadParameter("csat or nps", param_hint="--kind")
    if by not in ("channel", "store", "month"):
        raise typer.BadParameter("channel, store or month", param_hint="--by")
    chosen: Literal["csat", "nps"] = "csat" if kind == "csat" else "nps"
    rows = _run(parquet, lambda e: value.satisfaction(e, kind=chosen, by=by))
    table = _table(f"{kind.upper()} by {by}", by, "answers", "score", "95 % CI", "mean")
    for r in rows:
        score = (
            _pct(r.score)
            if kind == "csat"
            else ("–" if r.score is None else f"{r.score * 100:+.0f}")
        )
        table.add_row(r.key, str(r.answered), score, _ci(r.interval), f"{r.mean or 0:.2f}")
    console.print(table)
