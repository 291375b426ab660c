"""Every query of the privacy domain."""

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import Row, and_, or_, select, update
from sqlalchemy.orm import Session

from omnikanal.privacy.models import AccessLogEntry, PrivacyRequest, RequestStatus


def get_request(session: Session, request_id: UUID, *, lock: bool = False) -> PrivacyRequest | None:
    query = select(PrivacyRequest).where(PrivacyRequest.id == request_id)
    if lock:
        query = query.with_for_update()
    return session.scalar(query)


def unfinished_request(session: Session, profile_ids: Sequence[UUID]) -> PrivacyRequest | None:
    return session.scalar(
        select(PrivacyRequest)
        .where(
            PrivacyRequest.profile_id.in_(profile_ids),
            PrivacyRequest.status.in_(RequestStatus.UNFINISHED),
        )
        .order_by(PrivacyRequest.requested_at)
        .limit(1)
    )


def blank_access_reasons(session: Session, profile_ids: Sequence[UUID]) -> int:
    result = session.execute(
        update(AccessLogEntry)
        .where(AccessLogEntry.profile_id.in_(profile_ids), AccessLogEntry.reason.is_not(None))
        .values(reason=None)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def access_log(
    session: Session,
    *,
    profile_ids: Sequence[UUID] | None,
    actor_id: UUID | None,
    action: str | None,
    since: datetime | None,
    until: datetime | None,
    before: tuple[datetime, UUID] | None,
    limit: int,
) -> Sequence[AccessLogEntry]:
    """Entries newest first; ``before`` is the (at, id) of the last entry of the page before."""
    query = select(AccessLogEntry)
    if profile_ids is not None:
        query = query.where(AccessLogEntry.profile_id.in_(profile_ids))
    if actor_id is not None:
        query = query.where(AccessLogEntry.actor_id == actor_id)
    if action is not None:
        query = query.where(AccessLogEntry.action == action)
    if since is not None:
        query = query.where(AccessLogEntry.at >= since)
    if until is not None:
        query = query.where(AccessLogEntry.at < until)
    if before is not None:
        at, entry_id = before
        query = query.where(
            or_(
                AccessLogEntry.at < at,
                and_(AccessLogEntry.at == at, AccessLogEntry.id < entry_id),
            )
        )
    query = query.order_by(AccessLogEntry.at.desc(), AccessLogEntry.id.desc()).limit(limit)
    return session.scalars(query).all()


def reads_by_role(session: Session, *, role: str) -> Sequence[Row[UUID | None, UUID, datetime]]:
    """(profile id, credential id, when) of every read of a person by that role."""
    e = AccessLogEntry
    query = (
        select(e.profile_id, e.actor_id, e.at)
        .where(e.actor_role == role, e.profile_id.is_not(None))
        .order_by(e.at)
    )
    return session.execute(query).all()
