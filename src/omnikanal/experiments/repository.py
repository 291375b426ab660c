"""Every query of the experiments domain."""

from collections.abc import Sequence
from typing import Any, cast
from uuid import UUID

from sqlalchemy import ColumnElement, Row, Table, and_, delete, false, or_, select
from sqlalchemy.orm import Session

from omnikanal.experiments.models import Experiment, Exposure


def by_key(session: Session, key: str) -> Experiment | None:
    return session.scalar(select(Experiment).where(Experiment.key == key))


def by_target(session: Session, target: str) -> Experiment | None:
    return session.scalar(select(Experiment).where(Experiment.target == target))


def experiments(session: Session, *, status: str | None, limit: int) -> Sequence[Experiment]:
    query = select(Experiment)
    if status is not None:
        query = query.where(Experiment.status == status)
    return session.scalars(query.order_by(Experiment.created_at.desc()).limit(limit)).all()


def exposures_of_profiles(
    session: Session, experiment_id: UUID, profile_ids: Sequence[UUID]
) -> Sequence[Exposure]:
    query = (
        select(Exposure)
        .where(Exposure.experiment_id == experiment_id, Exposure.profile_id.in_(profile_ids))
        .order_by(Exposure.exposed_at, Exposure.id)
    )
    return session.scalars(query).all()


def exposures_of_devices(
    session: Session, experiment_id: UUID, anonymous_ids: Sequence[str]
) -> Sequence[Exposure]:
    query = (
        select(Exposure)
        .where(Exposure.experiment_id == experiment_id, Exposure.anonymous_id.in_(anonymous_ids))
        .order_by(Exposure.exposed_at, Exposure.id)
    )
    return session.scalars(query).all()


def exposure_of_store(session: Session, experiment_id: UUID, location: str) -> Exposure | None:
    query = (
        select(Exposure)
        .where(
            Exposure.experiment_id == experiment_id,
            Exposure.location == location,
            Exposure.profile_id.is_(None),
            Exposure.anonymous_id.is_(None),
        )
        .order_by(Exposure.exposed_at, Exposure.id)
        .limit(1)
    )
    return session.scalar(query)


def exposures(session: Session, experiment_id: UUID) -> Sequence[Exposure]:
    query = (
        select(Exposure)
        .where(Exposure.experiment_id == experiment_id)
        .order_by(Exposure.exposed_at, Exposure.id)
    )
    return session.scalars(query).all()


def running_variants_of(
    session: Session, profile_ids: Sequence[UUID]
) -> Sequence[tuple[str, str, UUID | None]]:
    """(experiment key, variant, profile) of every exposure of these profiles to a running
    experiment, earliest first."""
    query = (
        select(Experiment.key, Exposure.variant, Exposure.profile_id)
        .join(Exposure, Exposure.experiment_id == Experiment.id)
        .where(Experiment.status == "running", Exposure.profile_id.in_(profile_ids))
        .order_by(Exposure.exposed_at, Exposure.id)
    )
    return [(k, v, p) for k, v, p in session.execute(query)]


def exposures_of_person(
    session: Session, profile_ids: Sequence[UUID], anonymous_ids: Sequence[str]
) -> Sequence[Exposure]:
    query = (
        select(Exposure)
        .where(or_(Exposure.profile_id.in_(profile_ids), Exposure.anonymous_id.in_(anonymous_ids)))
        .order_by(Exposure.exposed_at, Exposure.id)
    )
    return session.scalars(query).all()


def delete_exposures(session: Session, exposure_ids: Sequence[UUID]) -> int:
    if not exposure_ids:
        return 0
    result = session.execute(delete(Exposure).where(Exposure.id.in_(exposure_ids)))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


_experiment = cast(Table, Experiment.__table__)
_exposure = cast(Table, Exposure.__table__)


def experiment_and_exposures(
    session: Session,
    key: str,
    *,
    profile_ids: Sequence[UUID] = (),
    anonymous_ids: Sequence[str] = (),
    location: str | None = None,
) -> list[Row[Any]]:
    """The experiment's columns joined with the unit's exposures (earliest first): one
    statement on the assignment's path. No experiment: no row; no exposure: one row with
    the exposure's columns null."""
    e, x = _experiment.c, _exposure.c
    matches: list[ColumnElement[bool]] = []
    if profile_ids:
        matches.append(x.profile_id.in_(profile_ids))
    if anonymous_ids:
        matches.append(x.anonymous_id.in_(anonymous_ids))
    if location is not None:
        matches.append(
            and_(x.location == location, x.profile_id.is_(None), x.anonymous_id.is_(None))
        )
    joined = _experiment.outerjoin(
        _exposure, and_(x.experiment_id == e.id, or_(*matches) if matches else false())
    )
    query = (
        select(
            e.id,
            e.key,
            e.unit,
            e.variants,
            e.audience_id,
            e.status,
            x.variant.label("exposed_variant"),
            x.profile_id.label("exposed_profile"),
        )
        .select_from(joined)
        .where(e.key == key)
        .order_by(x.exposed_at, x.id)
    )
    return list(session.execute(query))
