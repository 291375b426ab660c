"""Every query of the notifications domain."""

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import select, update
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


def stale_ids(session: Session, *, before: datetime, limit: int) -> Sequence[UUID]:
    """Notices created before ``before`` that still hold their body."""
    query = (
        select(Notification.id)
        .where(Notification.body_removed_at.is_(None), Notification.created_at < before)
        .limit(limit)
    )
    return session.scalars(query).all()


def remove_bodies(session: Session, ids: Sequence[UUID], *, at: datetime) -> None:
    if ids:
        session.execute(
            update(Notification).where(Notification.id.in_(ids)).values(body="", body_removed_at=at)
        )
