"""The analyst's pages: funnel, webrooming and showrooming, channel paths and attribution,
cohorts, customer value and satisfaction; each with its charts drawn on the server (SVG)
and its table as a CSV download (S13, S14)."""

import csv
import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from markupsafe import Markup
from starlette.responses import RedirectResponse, Response

from omnikanal.analytics import charts, funnels, journeys, paths, value
from omnikanal.analytics import service as analytics_service
from omnikanal.analytics.charts import Bar, Series
from omnikanal.analytics.engine import Engine
from omnikanal.auth.models import Role
from omnikanal.console.dependencies import CheckedForm, require_console_roles
from omnikanal.console.pages import render
from omnikanal.console.service import SignedIn
from omnikanal.errors import CommonErrorCode, RuleViolation
from omnikanal.http import DbSession
from omnikanal.kit.time import utcnow

router = APIRouter(prefix="/analytics")

Analyst = Annotated[SignedIn, Depends(require_console_roles(Role.ANALYST))]
Format = Annotated[Literal["html", "csv"], Query(alias="format")]

TABS = [
    ("Funnel", "/console/analytics"),
    ("Webrooming and showrooming", "/console/analytics/rooming"),
    ("Paths and attribution", "/console/analytics/paths"),
    ("Cohorts", "/console/analytics/cohorts"),
    ("Customer value", "/console/analytics/clv"),
    ("Satisfaction", "/console/analytics/satisfaction"),
]
Row = Sequence[Any]


def csv_response(name: str, header: Sequence[str], rows: Iterable[Row]) -> Response:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{name}.csv"'},
    )


def _page(request: Request, user: SignedIn, template: str, title: str, **context: Any) -> Response:
    return render(
        request,
        template,
        title=title,
        user=user,
        tabs=TABS,
        csv_path=f"{request.url.path}?{_with_csv(request)}",
        **context,
    )


def _with_csv(request: Request) -> str:
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "format"]
    params.append(("format", "csv"))
    return urlencode(params)


def _svg(text: str) -> Markup:
    # The chart module escapes every label it draws.
    return Markup(text)  # noqa: S704


def _pct(value_: float | None) -> str:
    return "" if value_ is None else f"{value_:.4f}"


def _report(session: DbSession, run: Callable[[Engine], Any]) -> Any:
    return analytics_service.report(session, run)


# -- funnel --


def _channels(text: str) -> tuple[str, ...]:
    return tuple(c.strip() for c in text.split(",") if c.strip())


def _step(name: str, channels: str, days: int | None) -> funnels.Step:
    kind = "order" if name.strip().lower() == "order" else "event"
    return funnels.Step(
        event=None if kind == "order" else name.strip(),
        kind=kind,
        channels=_channels(channels),
        within=None if days is None else days * 86400,
    )


def _form_steps(form: Mapping[str, Any]) -> tuple[list[funnels.Step], funnels.ChannelMode]:
    """The funnel of the page's hidden fields, checked as the page's query is."""

    def text(name: str, default: str = "") -> str:
        value = form.get(name, default)
        return value.strip()[:200] if isinstance(value, str) else default

    def days(name: str) -> int | None:
        given = text(name)
        if not given:
            return None
        if not given.isdigit() or not 1 <= int(given) <= 3650:
            raise _bad(name, "a number of days, 1 to 3650")
        return int(given)

    for name in ("step1", "step2"):
        if not text(name):
            raise _bad(name, "an event name, or order")
    steps = [
        _step(text("step1"), text("channels1"), None),
        _step(text("step2"), text("channels2"), days("days2")),
    ]
    if text("step3"):
        steps.append(_step(text("step3"), text("channels3"), days("days3")))
    try:
        mode = funnels.ChannelMode(text("mode", "any"))
    except ValueError as exc:
        raise _bad("mode", "any, same or switch") from exc
    return steps, mode


def _bad(field: str, message: str) -> RuleViolation:
    return RuleViolation(
        CommonErrorCode.VALIDATION_FAILED,
        f"{field}: {message}.",
        errors=[{"field": field, "message": message}],
    )


@router.post("/stalled")
def save_stalled(session: DbSession, user: Analyst, form: CheckedForm) -> Response:
    """Save the people the funnel lost at its largest drop as an audience for campaigns."""
    steps, mode = _form_steps(form)
    name = f"Stalled: {' → '.join(s.label for s in steps)} ({utcnow():%Y-%m-%d %H:%M})"
    audience_id, step, people = analytics_service.save_stalled(
        session, steps=steps, mode=mode, name=name[:200]
    )
    done = (
        f"Saved {people} people who stalled before step {step} as the audience "
        f"{audience_id} (for a campaign)."
        if audience_id
        else "Nobody stalled: no audience saved."
    )
    back = {k: v for k, v in form.items() if k in DEFAULT_FUNNEL and isinstance(v, str)}
    return RedirectResponse(
        "/console/analytics?" + urlencode({**back, "done": done}), status_code=303
    )


# The funnel the page shows first: viewed online, then bought at a till within 30 days.
DEFAULT_FUNNEL = {
    "step1": "Product Viewed",
    "channels1": "web,app",
    "step2": "order",
    "channels2": "pos",
    "days2": "30",
    "step3": "",
    "channels3": "",
    "days3": "",
    "mode": "any",
}


@router.get("")
def funnel_page(
    request: Request,
    session: DbSession,
    user: Analyst,
    fmt: Format = "html",
    done: Annotated[str | None, Query(max_length=300)] = None,
) -> Response:
    """The funnel of the query (``step1``..``step3``, ``channels1``.., ``days2``, ``days3``,
    ``mode``); the default one without."""
    asked = {k: v for k, v in request.query_params.items() if k in DEFAULT_FUNNEL}
    form = {**DEFAULT_FUNNEL, **asked} if asked else dict(DEFAULT_FUNNEL)
    steps, mode = _form_steps(form)
    result: funnels.FunnelResult = _report(session, lambda e: funnels.run(e, steps, mode, 20))
    if fmt == "csv":
        return csv_response(
            "funnel",
            ["step", "label", "entered", "reached", "conversion", "low", "high", "median_s"],
            (
                [
                    s.step,
                    s.label,
                    s.entered,
                    s.reached,
                    _pct(s.conversion),
                    _pct(s.interval.low if s.interval else None),
                    _pct(s.interval.high if s.interval else None),
                    "" if s.median_seconds is None else f"{s.median_seconds:.0f}",
                ]
                for s in result.steps
            ),
        )
    chart = charts.bars(
        "People reaching each step",
        [Bar(f"{s.step}. {s.label}", s.reached) for s in result.steps],
    )
    by_path = charts.bars(
        "Completion by channel path",
        [Bar(b.key, b.conversion or 0.0) for b in result.by_path[:10]],
        percent=True,
    )
    return _page(
        request,
        user,
        "analytics_funnel.html",
        "Funnel",
        result=result,
        charts=[_svg(chart), _svg(by_path)],
        form=form,
        modes=[m.value for m in funnels.ChannelMode],
        done=done,
    )


# -- webrooming and showrooming --


def _rate_bars(rows: Sequence[journeys.RateRow], days: int) -> list[Bar]:
    found = []
    for row in rows:
        rate_ = next(r for r in row.rates if r.days == days)
        found.append(
            Bar(
                row.key,
                rate_.rate or 0.0,
                rate_.interval.low if rate_.interval else None,
                rate_.interval.high if rate_.interval else None,
            )
        )
    return found


def _rooming_rows(kind: str, report: journeys.RoomingReport) -> Iterable[Row]:
    for group, rows in [("all", [report.overall]), *report.by.items()]:
        for row in rows:
            for r in row.rates:
                low = r.interval.low if r.interval else None
                high = r.interval.high if r.interval else None
                yield [kind, group, row.key, row.total, r.days, r.count, _pct(r.rate)] + [
                    _pct(low),
                    _pct(high),
                ]


@router.get("/rooming")
def rooming_page(
    request: Request,
    session: DbSession,
    user: Analyst,
    fmt: Format = "html",
    days: Literal[7, 14, 30] = 30,
    by_category: bool = False,
) -> Response:
    def run(engine: Engine) -> tuple[Any, Any, Any]:
        return (
            journeys.webrooming(engine, by_category=by_category, limit=20),
            journeys.showrooming(engine, limit=20),
            journeys.spend(engine),
        )

    web, show, spend = _report(session, run)
    if fmt == "csv":
        rows = [*_rooming_rows("webrooming", web), *_rooming_rows("showrooming", show)]
        return csv_response(
            "rooming",
            ["kind", "by", "key", "total", "days", "count", "rate", "low", "high"],
            rows,
        )
    drawn = [
        charts.bars(
            f"Webrooming within {days} days, by store",
            _rate_bars(web.by["store"], days),
            percent=True,
        ),
        charts.bars(
            f"Webrooming within {days} days, by {'category' if by_category else 'SKU'}",
            _rate_bars(web.by["category" if by_category else "sku"], days),
            percent=True,
        ),
        charts.bars(
            f"Showrooming within {days} days, by store of the touch",
            _rate_bars(show.by["store"], days),
            percent=True,
        ),
        charts.bars(
            "Mean spend, omnichannel and single-channel (minor units)",
            [
                Bar(f"{c.measure} · {who}", s.mean or 0.0, *_bounds(s))
                for c in spend
                for who, s in (("omni", c.omnichannel), ("single", c.single_channel))
            ],
        ),
    ]
    return _page(
        request,
        user,
        "analytics_rooming.html",
        "Webrooming and showrooming",
        web=web,
        show=show,
        spend=spend,
        days=days,
        by_category=by_category,
        charts=[_svg(c) for c in drawn],
    )


def _bounds(spend: journeys.Spend) -> tuple[float | None, float | None]:
    if spend.interval is None:
        return None, None
    return max(0.0, spend.interval.low), spend.interval.high


# -- paths and attribution --


@router.get("/paths")
def paths_page(
    request: Request, session: DbSession, user: Analyst, fmt: Format = "html"
) -> Response:
    report: paths.PathsReport = _report(session, lambda e: paths.paths(e, limit=20))
    if fmt == "csv":
        return csv_response(
            "paths",
            ["path", "journeys", "converted", "conversion", "revenue"],
            (
                [p.path, p.journeys, p.converted, _pct(p.conversion), p.revenue]
                for p in report.paths
            ),
        )
    drawn = [
        charts.bars(
            "Top channel paths (journeys)", [Bar(p.path, p.journeys) for p in report.paths[:12]]
        ),
        charts.bars(
            "Revenue credited, position-based 40/20/40",
            [Bar(c.touchpoint, c.position_based_revenue) for c in report.attribution],
        ),
        charts.bars(
            "Revenue credited, last touch",
            [Bar(c.touchpoint, c.last_touch_revenue) for c in report.attribution],
        ),
    ]
    return _page(
        request,
        user,
        "analytics_paths.html",
        "Channel paths and attribution",
        report=report,
        charts=[_svg(c) for c in drawn],
    )


# -- cohorts --


@router.get("/cohorts")
def cohorts_page(
    request: Request,
    session: DbSession,
    user: Analyst,
    fmt: Format = "html",
    months: Annotated[int, Query(ge=1, le=60)] = 12,
) -> Response:
    found: list[value.Cohort] = _report(session, lambda e: value.cohorts(e, months=months))
    if fmt == "csv":
        return csv_response(
            "cohorts",
            ["cohort", "first_channel", "size", "month", "retention"],
            (
                [c.cohort, c.first_channel, c.size, age, _pct(share)]
                for c in found
                for age, share in enumerate(c.retention)
            ),
        )
    ages = max((len(c.retention) for c in found), default=1)
    by_channel = _retention_by_channel(found, ages)
    drawn = [
        charts.lines(
            "Retention by first channel (share ordering, months after the first order)",
            [str(a) for a in range(ages)],
            by_channel,
            percent=True,
        ),
        charts.bars(
            "Cohort size by first month and channel",
            [Bar(f"{c.cohort} {c.first_channel}", c.size) for c in found[-15:]],
        ),
    ]
    return _page(
        request,
        user,
        "analytics_cohorts.html",
        "Cohorts",
        cohorts=found,
        ages=ages,
        charts=[_svg(c) for c in drawn],
    )


def _retention_by_channel(found: list[value.Cohort], ages: int) -> list[Series]:
    """Each first channel's retention, the cohorts weighted by their size."""
    sizes: dict[str, list[float]] = {}
    kept: dict[str, list[float]] = {}
    for c in found:
        total = sizes.setdefault(c.first_channel, [0.0] * ages)
        active = kept.setdefault(c.first_channel, [0.0] * ages)
        for age in range(ages):
            if age < len(c.retention):
                total[age] += c.size
                active[age] += c.retention[age] * c.size
    return [
        Series(
            channel,
            [a / t if t else None for a, t in zip(kept[channel], sizes[channel], strict=True)],
        )
        for channel in sorted(sizes)
    ]


# -- customer value --


@router.get("/clv")
def clv_page(
    request: Request,
    session: DbSession,
    user: Analyst,
    fmt: Format = "html",
    horizon_weeks: Annotated[float, Query(gt=0, le=520)] = 52,
) -> Response:
    today = datetime.now(UTC).date()
    report: value.ValueReport = _report(
        session, lambda e: value.value(e, end=today, horizon_weeks=horizon_weeks, limit=20)
    )
    if fmt == "csv":
        return csv_response(
            "clv",
            [
                "person",
                "repeat_purchases",
                "p_alive",
                "expected_purchases",
                "expected_spend",
                "clv",
            ],
            (
                [
                    p.person,
                    p.x,
                    f"{p.p_alive:.4f}",
                    f"{p.expected_purchases:.4f}",
                    f"{p.expected_spend:.2f}",
                    f"{p.clv:.2f}",
                ]
                for p in report.top
            ),
        )
    drawn = [
        charts.bars(
            f"Expected value over {horizon_weeks:g} weeks, the most valuable (minor units)",
            [Bar(p.person[-8:], p.clv) for p in report.top[:15]],
        )
    ]
    return _page(
        request,
        user,
        "analytics_clv.html",
        "Customer value",
        report=report,
        charts=[_svg(c) for c in drawn],
    )


# -- satisfaction --


@router.get("/satisfaction")
def satisfaction_page(
    request: Request,
    session: DbSession,
    user: Analyst,
    fmt: Format = "html",
    kind: Literal["csat", "nps"] = "csat",
    by: Literal["channel", "store", "month"] = "month",
) -> Response:
    found: list[value.Satisfaction] = _report(
        session, lambda e: value.satisfaction(e, kind=kind, by=by)
    )
    if fmt == "csv":
        return csv_response(
            f"{kind}-by-{by}",
            ["key", "answered", "score", "low", "high", "mean"],
            (
                [
                    s.key,
                    s.answered,
                    _pct(s.score),
                    _pct(s.interval.low if s.interval else None),
                    _pct(s.interval.high if s.interval else None),
                    "" if s.mean is None else f"{s.mean:.3f}",
                ]
                for s in found
            ),
        )
    name = "CSAT (share answering 4 or 5)" if kind == "csat" else "NPS (promoters − detractors)"
    chart = charts.bars(
        f"{name} by {by}",
        [
            Bar(
                s.key,
                max(0.0, s.score or 0.0),
                max(0.0, s.interval.low) if s.interval else None,
                max(0.0, s.interval.high) if s.interval else None,
                text=None
                if s.score is None
                else f"{s.score * (100 if kind == 'nps' else 1):.{0 if kind == 'nps' else 2}f}",
            )
            for s in found
        ],
        percent=kind == "csat",
    )
    return _page(
        request,
        user,
        "analytics_satisfaction.html",
        "Satisfaction",
        found=found,
        kind=kind,
        by=by,
        charts=[_svg(chart)],
    )
