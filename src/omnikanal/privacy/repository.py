"""Every query of the privacy domain."""

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy import select, update
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
