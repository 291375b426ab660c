"""Every query of the experiments domain."""

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy import delete, or_, select
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
