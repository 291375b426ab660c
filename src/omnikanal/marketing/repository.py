"""Every query of the marketing domain."""

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from omnikanal.marketing.models import Audience, Consent, Message


def consents_of(session: Session, profile_ids: Sequence[UUID]) -> Sequence[Consent]:
    query = (
        select(Consent)
        .where(Consent.profile_id.in_(profile_ids))
        .order_by(Consent.changed_at, Consent.recorded_at)
    )
    return session.scalars(query).all()


def message_by_key(session: Session, key: str) -> Message | None:
    return session.scalar(select(Message).where(Message.key == key))


def get_message(session: Session, message_id: UUID, *, lock: bool = False) -> Message | None:
    query = select(Message).where(Message.id == message_id)
    if lock:
        query = query.with_for_update()
    return session.scalar(query)


def messages(
    session: Session,
    *,
    profile_ids: Sequence[UUID] | None,
    status: str | None,
    limit: int,
) -> Sequence[Message]:
    query = select(Message)
    if profile_ids is not None:
        query = query.where(Message.profile_id.in_(profile_ids))
    if status is not None:
        query = query.where(Message.status == status)
    query = query.order_by(Message.created_at.desc(), Message.id.desc()).limit(limit)
    return session.scalars(query).all()


def get_audience(session: Session, audience_id: UUID) -> Audience | None:
    return session.get(Audience, audience_id)
