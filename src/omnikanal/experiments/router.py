"""``/v1/experiments``: A/B tests of offers, messages and channels, by person or store."""

import dataclasses
import math
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query

from omnikanal.experiments import planning, results, service
from omnikanal.experiments.dependencies import Assigner, Designer, Reader
from omnikanal.experiments.models import Experiment
from omnikanal.experiments.schemas import (
    AssignmentRead,
    ExperimentCreate,
    ExperimentList,
    ExperimentRead,
    PlanCreate,
    PlanRead,
    ResultsRead,
)
from omnikanal.http import DbSession

router = APIRouter(prefix="/v1/experiments", tags=["experiments"])


def _read(experiment: Experiment) -> ExperimentRead:
    return ExperimentRead.model_validate(experiment)


def finite(value: Any) -> Any:
    """The results as JSON can carry them: an infinite or undefined number is null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def results_read(found: results.Results) -> ResultsRead:
    return ResultsRead.model_validate(finite(dataclasses.asdict(found)))


@router.post("", response_model=ExperimentRead, status_code=201)
def create_experiment(
    body: ExperimentCreate, session: DbSession, _actor: Designer
) -> ExperimentRead:
    """A new experiment (a draft until started). The first variant is control. ``unit``
    ``person``: every channel and device of a person gets the same variant; ``store``:
    whole locations do. ``target`` makes the hub's own message (the abandoned-cart
    reminder, a campaign) the thing tested: each variant's ``subject`` and ``offer``."""
    fields = body.model_dump()
    fields["variants"] = [
        {k: v for k, v in variant.items() if v is not None} for variant in fields["variants"]
    ]
    return _read(service.create(session, fields=fields))


@router.get("", response_model=ExperimentList)
def list_experiments(
    session: DbSession,
    _actor: Reader,
    status: Literal["draft", "running", "stopped"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> ExperimentList:
    """Experiments, newest first."""
    found = service.experiments(session, status=status, limit=limit)
    return ExperimentList(experiments=[_read(e) for e in found])


@router.post("/plan", response_model=PlanRead)
def plan(body: PlanCreate, _actor: Reader) -> PlanRead:
    """Before launch: the units each variant needs to find the ``minimum_effect``
    (relative) with the given power (two-sided test at ``alpha``); with ``daily_units``,
    how many days that takes."""
    found = planning.plan(**body.model_dump())
    return PlanRead(
        per_variant=found.plan.per_variant,
        total=found.plan.total,
        absolute_effect=found.plan.effect,
        sd=found.plan.sd,
        alpha=found.plan.alpha,
        power=found.plan.power,
        days=found.days,
    )


@router.get("/{key}", response_model=ExperimentRead)
def get_experiment(key: str, session: DbSession, _actor: Reader) -> ExperimentRead:
    return _read(service.get(session, key=key))


@router.post("/{key}/start", response_model=ExperimentRead)
def start_experiment(key: str, session: DbSession, _actor: Designer) -> ExperimentRead:
    """Start assigning units (a draft only)."""
    return _read(service.start(session, key=key))


@router.post("/{key}/stop", response_model=ExperimentRead)
def stop_experiment(key: str, session: DbSession, _actor: Designer) -> ExperimentRead:
    """Stop: no new units; those already in keep their variant; results count up to now."""
    return _read(service.stop(session, key=key))


@router.get("/{key}/assignment", response_model=AssignmentRead)
def assignment(
    key: str,
    session: DbSession,
    actor: Assigner,
    anonymous_id: Annotated[str | None, Query(min_length=1, max_length=320)] = None,
    user_id: Annotated[str | None, Query(min_length=1, max_length=320)] = None,
    profile_id: UUID | None = None,
    location: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
) -> AssignmentRead:
    """The variant to show: a person (one of ``anonymous_id``, ``user_id``,
    ``profile_id``; ``location`` may name the store they are in) or, for a store
    experiment, a ``location``. The first answer records the exposure; later ones, on any
    channel or device of the same person, give the same variant. Outside the experiment
    (not running, not in its audience) the answer is control with ``in_experiment``
    false, and nothing is recorded."""
    found = service.assign(
        session,
        key=key,
        anonymous_id=anonymous_id,
        user_id=user_id,
        profile_id=profile_id,
        location=location if location is not None else actor.location,
        channel=actor.channel.value if actor.channel else None,
    )
    return AssignmentRead(**dataclasses.asdict(found))


@router.get("/{key}/results", response_model=ResultsRead)
def experiment_results(key: str, session: DbSession, _actor: Reader) -> ResultsRead:
    """The results now (computed from the history of every channel when asked)."""
    return results_read(results.results(session, key=key))
