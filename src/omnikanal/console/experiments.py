"""The experiments pages for analysts and marketers: every experiment, and one's results
per variant with intervals, the effect over time and a warning when the split is broken
(sample-ratio mismatch). Marketers start and stop them here (S14)."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from markupsafe import Markup
from starlette.responses import RedirectResponse, Response

from omnikanal.analytics import charts
from omnikanal.analytics.charts import Bar
from omnikanal.auth.models import Role
from omnikanal.console.dependencies import CheckedForm, require_console_roles
from omnikanal.console.forms import with_notice
from omnikanal.console.pages import render
from omnikanal.console.service import SignedIn
from omnikanal.errors import OmnikanalError
from omnikanal.experiments import results as experiment_results
from omnikanal.experiments import service as experiments_service
from omnikanal.experiments.results import MetricResult, Results
from omnikanal.http import DbSession

router = APIRouter(prefix="/experiments")

Reader = Annotated[SignedIn, Depends(require_console_roles(Role.ANALYST, Role.MARKETER))]
Marketer = Annotated[SignedIn, Depends(require_console_roles(Role.MARKETER))]

METRIC_NAMES = {
    "conversion": "Conversion",
    "revenue": "Revenue per unit",
    "orders": "Orders per unit",
    "aov": "Average order value",
    "return_rate": "Return rate",
    "csat": "CSAT (share satisfied)",
}


def _svg(text: str) -> Markup:
    # The chart module escapes every label it draws.
    return Markup(text)  # noqa: S704


def _money_metric(metric: str) -> bool:
    return metric in ("revenue", "aov")


def _means_chart(found: MetricResult) -> str:
    scale = 0.01 if _money_metric(found.metric) else 1.0
    rows = [
        Bar(
            label=v.key,
            value=(v.mean or 0.0) * scale,
            low=None if v.low is None else max(0.0, v.low * scale),
            high=None if v.high is None else v.high * scale,
            text=_shown(v.mean, found),
        )
        for v in found.variants
    ]
    return charts.bars(f"{METRIC_NAMES[found.metric]} per variant (95 %)", rows)


def _shown(value: float | None, found: MetricResult) -> str:
    if value is None:
        return "–"
    if found.rate:
        return f"{value:.1%}"
    if _money_metric(found.metric):
        return f"{value / 100:,.2f}"
    return f"{value:,.3f}"


def _effect_chart(results: Results) -> str:
    # The first treatment's effect (each variant's is in the tables).
    chosen = results.primary.effects[0].variant if results.primary.effects else None
    mine = [p for p in results.timeline if p.variant == chosen]
    rate = results.primary.rate
    scale = 0.01 if _money_metric(results.primary.metric) else 1.0
    return charts.band(
        f"Effect of {chosen or 'the treatment'} by day since the start (always-valid 95 %)",
        [str(p.day) for p in mine],
        [p.estimate * scale for p in mine],
        [p.low * scale for p in mine],
        [p.high * scale for p in mine],
        percent=rate,
    )


@router.get("")
def experiments_page(request: Request, session: DbSession, user: Reader) -> Response:
    return render(
        request,
        "experiments/list.html",
        title="Experiments",
        user=user,
        experiments=experiments_service.experiments(session, limit=500),
        metric_names=METRIC_NAMES,
        done=request.query_params.get("done"),
    )


@router.get("/{key}")
def experiment_page(request: Request, session: DbSession, user: Reader, key: str) -> Response:
    experiment = experiments_service.get(session, key=key)
    found = experiment_results.results(session, key=key)
    figures: list[Any] = [_svg(_means_chart(found.primary))]
    if experiment.variants[1:]:
        figures.append(_svg(_effect_chart(found)))
    return render(
        request,
        "experiments/results.html",
        title=f"Experiment {experiment.name}",
        user=user,
        experiment=experiment,
        results=found,
        charts=figures,
        metric_names=METRIC_NAMES,
        shown=_shown,
        can_change=user.actor.role in (Role.MARKETER, Role.ADMIN),
        done=request.query_params.get("done"),
    )


@router.post("/{key}/start")
def start(session: DbSession, _user: Marketer, _form: CheckedForm, key: str) -> Response:
    return _change(session, key, experiments_service.start, "started")


@router.post("/{key}/stop")
def stop(session: DbSession, _user: Marketer, _form: CheckedForm, key: str) -> Response:
    return _change(session, key, experiments_service.stop, "stopped")


def _change(session: DbSession, key: str, change: Any, word: str) -> Response:
    where = f"/console/experiments/{key}"
    try:
        change(session, key=key)
    except OmnikanalError as exc:
        if exc.status == 404:
            raise
        return RedirectResponse(with_notice(where, exc.detail), 303)
    return RedirectResponse(with_notice(where, f"The experiment is {word}."), 303)
