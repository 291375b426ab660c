"""Every query of the notifications domain."""

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from omnikanal.notifications.models import Notification


def find(session: Session, kind: str, reference: str) -> Notification | None:
    return session.scalar(
        select(Notification).where(Notification.kind == kind, Notification.reference == reference)
    )


def of_profiles(
    session: Session, profile_ids: Sequence[UUID], *, status: str | None, limit: int
) -> Sequence[Notification]:
    query = select(Notification).where(Notification.profile_id.in_(profile_ids))
    if status is not None:
        query = query.where(Notification.status == status)
    query = query.order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)
    return session.scalars(query).all()
