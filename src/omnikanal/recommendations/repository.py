"""Every query of the recommendations domain."""

from collections.abc import Sequence
from typing import Any, cast
from uuid import UUID

from sqlalchemy import Table, delete, func, insert, select, update
from sqlalchemy.orm import Session

from omnikanal.recommendations.models import (
    ItemList,
    ModelStatus,
    PersonList,
    RecommendationModel,
)

person_table = cast(Table, PersonList.__table__)
list_table = cast(Table, ItemList.__table__)
model_table = cast(Table, RecommendationModel.__table__)


def active_model(session: Session) -> RecommendationModel | None:
    query = (
        select(RecommendationModel)
        .where(RecommendationModel.status == ModelStatus.ACTIVE)
        .order_by(RecommendationModel.version.desc())
        .limit(1)
    )
    return session.scalars(query).first()


def models(session: Session, *, limit: int) -> Sequence[RecommendationModel]:
    query = select(RecommendationModel).order_by(RecommendationModel.version.desc()).limit(limit)
    return session.scalars(query).all()


def next_version(session: Session) -> int:
    return int(session.scalar(select(func.max(RecommendationModel.version))) or 0) + 1


def insert_people(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(person_table), list(rows))


def insert_lists(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(list_table), list(rows))


def activate(session: Session, model_id: UUID) -> None:
    """The model becomes the one served, every other active one retired: one statement
    each, in the caller's transaction."""
    session.execute(
        update(model_table)
        .where(model_table.c.status == ModelStatus.ACTIVE, model_table.c.id != model_id)
        .values(status=ModelStatus.RETIRED)
    )
    session.execute(
        update(model_table).where(model_table.c.id == model_id).values(status=ModelStatus.ACTIVE)
    )


def delete_models(session: Session, model_ids: Sequence[UUID]) -> None:
    if not model_ids:
        return
    ids = list(model_ids)
    session.execute(delete(person_table).where(person_table.c.model_id.in_(ids)))
    session.execute(delete(list_table).where(list_table.c.model_id.in_(ids)))
    session.execute(delete(model_table).where(model_table.c.id.in_(ids)))


def person_lists(
    session: Session, model_id: UUID, profile_ids: Sequence[UUID]
) -> Sequence[PersonList]:
    query = select(PersonList).where(
        PersonList.model_id == model_id, PersonList.profile_id.in_(list(profile_ids))
    )
    return session.scalars(query).all()


def item_lists(
    session: Session, model_id: UUID, kind: str, keys: Sequence[str]
) -> dict[str, list[Any]]:
    query = select(list_table.c.key, list_table.c["items"]).where(
        list_table.c.model_id == model_id,
        list_table.c.kind == kind,
        list_table.c.key.in_(sorted(set(keys))),
    )
    return {str(row.key): list(row.items) for row in session.execute(query)}


def person_rows_of(session: Session, profile_ids: Sequence[UUID]) -> Sequence[PersonList]:
    query = (
        select(PersonList)
        .where(PersonList.profile_id.in_(list(profile_ids)))
        .order_by(PersonList.model_id, PersonList.profile_id)
    )
    return session.scalars(query).all()


def delete_person_rows(session: Session, profile_ids: Sequence[UUID]) -> int:
    result = session.execute(
        delete(person_table).where(person_table.c.profile_id.in_(list(profile_ids)))
    )
    return int(getattr(result, "rowcount", 0) or 0)
