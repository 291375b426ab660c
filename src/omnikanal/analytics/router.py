"""``/v1/analytics/...``: journeys, channel paths, cohorts, value, satisfaction (analysts)."""

from datetime import UTC, date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from omnikanal.analytics import funnels, journeys, paths, service, value
from omnikanal.analytics.schemas import FunnelCreate, StalledAudience, StalledAudienceCreate
from omnikanal.auth.dependencies import require_roles
from omnikanal.auth.models import Role
from omnikanal.auth.service import StaffActor
from omnikanal.http import DbSession

router = APIRouter(prefix="/v1/analytics", tags=["analytics"])
AnalystKey = Annotated[StaffActor, Depends(require_roles(Role.ANALYST))]


@router.post("/funnels", response_model=funnels.FunnelResult)
def funnel(body: FunnelCreate, session: DbSession, _actor: AnalystKey) -> funnels.FunnelResult:
    """Run a funnel (nothing is stored): per step the people who entered and reached it,
    conversion with a Wilson 95 % interval, median seconds from the step before; by
    channel path and store; the largest drop and who stalled there."""
    steps = [step.step() for step in body.steps]
    return service.report(session, lambda e: funnels.run(e, steps, body.mode, body.limit))


@router.post("/funnels/stalled-audience", response_model=StalledAudience, status_code=201)
def stalled_audience(
    body: StalledAudienceCreate, session: DbSession, _actor: AnalystKey
) -> StalledAudience:
    """Run a funnel and save the people who stalled at its largest drop as an audience (a
    fixed list) that a campaign can be sent to (``audience_id`` in ``POST /v1/campaigns``).
    Nobody stalled: ``audience_id`` is null and nothing is saved."""
    steps = [step.step() for step in body.steps]
    audience_id, step, people = service.save_stalled(
        session, steps=steps, mode=body.mode, name=body.name
    )
    return StalledAudience(audience_id=audience_id, name=body.name, step=step, people=people)


@router.get("/webrooming", response_model=journeys.RoomingReport)
def webrooming(
    session: DbSession,
    _actor: AnalystKey,
    by_category: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
) -> journeys.RoomingReport:
    """Till purchases of a SKU (or, ``by_category``, its category) viewed online by the
    same person within 7, 14 and 30 days before."""
    return service.report(
        session, lambda e: journeys.webrooming(e, by_category=by_category, limit=limit)
    )


@router.get("/showrooming", response_model=journeys.RoomingReport)
def showrooming(
    session: DbSession, _actor: AnalystKey, limit: Annotated[int, Query(ge=1, le=500)] = 20
) -> journeys.RoomingReport:
    """Online orders with an in-store touch by the same person within 7, 14, 30 days before."""
    return service.report(session, lambda e: journeys.showrooming(e, limit=limit))


@router.get("/spend", response_model=list[journeys.SpendComparison])
def spend(session: DbSession, _actor: AnalystKey) -> list[journeys.SpendComparison]:
    """Mean spend (minor units) of omnichannel against single-channel people."""
    return service.report(session, journeys.spend)


@router.get("/paths", response_model=paths.PathsReport)
def channel_paths(
    session: DbSession, _actor: AnalystKey, limit: Annotated[int, Query(ge=1, le=500)] = 20
) -> paths.PathsReport:
    """Top channel paths (stores by name) with conversion and revenue; attribution."""
    return service.report(session, lambda e: paths.paths(e, limit=limit))


@router.get("/cohorts", response_model=list[value.Cohort])
def cohorts(
    session: DbSession, _actor: AnalystKey, months: Annotated[int, Query(ge=1, le=60)] = 12
) -> list[value.Cohort]:
    """Monthly cohorts by the channel of the first order, with retention per month after."""
    return service.report(session, lambda e: value.cohorts(e, months=months))


@router.get("/clv", response_model=value.ValueReport)
def customer_value(
    session: DbSession,
    _actor: AnalystKey,
    end: date | None = None,
    horizon_weeks: Annotated[float, Query(gt=0, le=520)] = 52,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
) -> value.ValueReport:
    """BG/NBD and Gamma-Gamma fitted on orders up to ``end`` (today by default); each
    person's expected purchases and value over the horizon, the most valuable first."""
    until = end or datetime.now(UTC).date()
    return service.report(
        session,
        lambda e: value.value(e, end=until, horizon_weeks=horizon_weeks, limit=limit),
    )


@router.get("/satisfaction", response_model=list[value.Satisfaction])
def satisfaction(
    session: DbSession,
    _actor: AnalystKey,
    kind: Literal["csat", "nps"] = "csat",
    by: Literal["channel", "store", "month"] = "month",
) -> list[value.Satisfaction]:
    """CSAT (share answering 4 or 5) or NPS (promoters minus detractors), with intervals."""
    return service.report(session, lambda e: value.satisfaction(e, kind=kind, by=by))
