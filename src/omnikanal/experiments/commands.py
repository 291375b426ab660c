"""``omnikanal experiments list|results KEY|plan``: experiments and their results as Rich
tables, over the hub's database."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.orm import Session

from omnikanal.config import Settings
from omnikanal.db import make_engine, make_session_factory
from omnikanal.errors import OmnikanalError
from omnikanal.experiments import planning, results, service, stats
from omnikanal.experiments.results import MetricResult, Results

experiments_app = typer.Typer(
    help="A/B tests: their list, results, and the units a test needs.", no_args_is_help=True
)
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


@contextmanager
def _session() -> Iterator[Session]:
    settings = Settings()
    engine = make_engine(settings.resolved_database_url())
    try:
        with make_session_factory(engine, settings=settings)() as session:
            yield session
    finally:
        engine.dispose()


def _fail(reason: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {reason}", highlight=False)
    return typer.Exit(1)


def _value(value: float | None, rate: bool) -> str:
    if value is None:
        return "–"
    return f"{value:.2%}" if rate else f"{value:,.2f}"


def _interval(low: float | None, high: float | None, rate: bool) -> str:
    if low is None or high is None:
        return "–"
    return f"{_value(low, rate)} … {_value(high, rate)}"


def _pct(estimate: stats.Estimate | None) -> str:
    if estimate is None:
        return "–"
    return f"{estimate.estimate:+.1%} ({estimate.low:+.1%} … {estimate.high:+.1%})"


def metric_tables(found: MetricResult, title: str) -> list[Table]:
    rate = found.rate
    variants = Table(title=title)
    for column in ("variant", "units", "observations", "mean", "95 % interval"):
        variants.add_column(column, justify="left" if column == "variant" else "right")
    for row in found.variants:
        variants.add_row(
            row.key,
            f"{row.units:,}",
            f"{row.observations:,}",
            _value(row.mean, rate),
            _interval(row.low, row.high, rate),
        )
    effects = Table(title=f"{title}: against control")
    for column in (
        "variant",
        "difference (95 %)",
        "p",
        "relative lift",
        "CUPED difference",
        "always-valid interval",
        "chance to beat",
        "expected loss",
    ):
        effects.add_column(column, justify="left" if column == "variant" else "right")
    for effect in found.effects:
        a, seq = effect.absolute, effect.sequential
        cuped = effect.cuped
        effects.add_row(
            effect.variant + (" (clustered)" if effect.clustered else ""),
            f"{_value(a.estimate, rate)} ({_interval(a.low, a.high, rate)})",
            f"{a.p_value:.4f}",
            _pct(effect.relative),
            "–"
            if cuped is None
            else f"{_value(cuped.estimate, rate)} ({_interval(cuped.low, cuped.high, rate)})",
            _interval(seq.low, seq.high, rate),
            f"{effect.chance_to_beat_control:.1%}",
            _value(effect.expected_loss, rate),
        )
    return [variants, effects]


def show(found: Results) -> None:
    console.print(
        f"[bold]{found.name}[/bold] ({found.key}) · {found.unit} experiment · {found.status}"
        f" · control {found.control} · window {found.window_days} days"
    )
    if found.srm_warning:
        console.print(
            f"[red]Sample ratio mismatch[/red]: units {found.srm.observed} against expected "
            f"{[round(e, 1) for e in found.srm.expected]} (p = {found.srm.p_value:.2g}); the "
            "split is broken, do not trust these results."
        )
    else:
        console.print(f"Sample ratio: {found.srm.observed}, p = {found.srm.p_value:.3g} (fine)")
    for table in metric_tables(found.primary, f"{found.primary.metric} (primary)"):
        console.print(table)
    for guardrail in found.guardrails:
        for table in metric_tables(guardrail, f"{guardrail.metric} (guardrail)"):
            console.print(table)
        if guardrail.harmed:
            console.print(f"[red]Guardrail {guardrail.metric} is significantly worse.[/red]")


@experiments_app.command("list")
def list_experiments() -> None:
    """Every experiment with its status."""
    with _session() as session:
        table = Table(title="Experiments")
        for column in ("key", "name", "unit", "metric", "status", "started"):
            table.add_column(column)
        for e in service.experiments(session, limit=500):
            started = e.started_at.strftime("%Y-%m-%d") if e.started_at else "–"
            table.add_row(e.key, e.name, e.unit, e.metric, e.status, started)
        console.print(table)


@experiments_app.command("results")
def results_command(key: Annotated[str, typer.Argument(help="The experiment's key.")]) -> None:
    """The results now: per variant, against control, the SRM check and the guardrails."""
    try:
        with (
            _session() as session,
            Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=err,
                transient=True,
            ) as progress,
        ):
            progress.add_task(f"Reading every channel's history for {key}", total=None)
            found = results.results(session, key=key)
    except OmnikanalError as exc:
        raise _fail(exc.detail) from exc
    show(found)


@experiments_app.command("plan")
def plan_command(
    minimum_effect: Annotated[
        float, typer.Option(help="Smallest relative change worth finding: 0.05 is +5 %.")
    ],
    baseline_rate: Annotated[float | None, typer.Option(help="Today's conversion rate.")] = None,
    baseline_mean: Annotated[float | None, typer.Option(help="Today's mean (revenue ...).")] = None,
    sd: Annotated[float | None, typer.Option(help="Its standard deviation per unit.")] = None,
    power: Annotated[float, typer.Option()] = 0.8,
    alpha: Annotated[float, typer.Option()] = 0.05,
    variants: Annotated[int, typer.Option()] = 2,
    daily_units: Annotated[int | None, typer.Option(help="New units a day.")] = None,
) -> None:
    """Units each variant needs before launch (and days, given daily traffic)."""
    if (baseline_rate is None) == (baseline_mean is None or sd is None):
        raise _fail("give --baseline-rate, or --baseline-mean and --sd")
    if baseline_rate is not None and not 0 < baseline_rate < 1:
        raise _fail("--baseline-rate is a share between 0 and 1")
    if minimum_effect <= 0:
        raise _fail("--minimum-effect must be positive")
    found = planning.plan(
        baseline_rate=baseline_rate,
        baseline_mean=baseline_mean,
        sd=sd,
        minimum_effect=minimum_effect,
        alpha=alpha,
        power=power,
        variants=variants,
        daily_units=daily_units,
    )
    console.print(
        f"{found.plan.per_variant:,} units per variant, {found.plan.total:,} in all"
        + (f", about {found.days} days" if found.days else "")
        + f" (power {power:.0%}, alpha {alpha:g}, absolute effect {found.plan.effect:g})."
    )
