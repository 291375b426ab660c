"""Messages a customer is owed, recorded in the transaction that made them due.

Which channel: the app's push when the order came from the app, else email when there is
an address; without one the notice is kept as suppressed, with the reason. Recording is
idempotent per (kind, reference), so a handler that runs twice records one notice."""

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import ClassVar
from uuid import UUID

from sqlalchemy.orm import Session

from omnikanal.customers import service as customers_service
from omnikanal.kit.time import utcnow
from omnikanal.notifications import repository
from omnikanal.notifications.models import Notification, NotificationStatus
from omnikanal.uow import DomainEvent, record_event


class Kind:
    ORDER_READY = "order_ready_for_pickup"


@dataclasses.dataclass(frozen=True)
class NotificationQueued(DomainEvent):
    type: ClassVar[str] = "notification.queued"
    notification_id: UUID
    kind: str
    channel: str
    profile_id: UUID | None


def record(
    session: Session,
    *,
    kind: str,
    reference: str,
    profile_id: UUID | None,
    channel: str,
    recipient: str,
    subject: str,
    body: str,
    suppressed: str | None = None,
) -> Notification:
    """Record the notice (once per kind and reference); ``suppressed`` says why nothing
    will be sent, and then nothing is queued for delivery."""
    existing = repository.find(session, kind, reference)
    if existing is not None:
        return existing
    notice = Notification(
        kind=kind,
        reference=reference,
        profile_id=profile_id,
        channel=channel,
        recipient=recipient,
        subject=subject,
        body=body,
        status=NotificationStatus.SUPPRESSED if suppressed else NotificationStatus.QUEUED,
        last_error=suppressed,
    )
    session.add(notice)
    session.flush()
    if suppressed:
        return notice
    record_event(
        session,
        NotificationQueued(
            notification_id=notice.id, kind=kind, channel=channel, profile_id=profile_id
        ),
    )
    return notice


def of_profile(
    session: Session, *, profile_id: UUID, status: str | None = None, limit: int = 50
) -> tuple[UUID, Sequence[Notification]]:
    live = customers_service.live_profile(session, profile_id).id
    family = [live, *customers_service.merged_descendants(session, live)]
    return live, repository.of_profiles(session, family, status=status, limit=limit)


def get(session: Session, *, notification_id: UUID) -> Notification | None:
    return session.get(Notification, notification_id)


def mark_delivered(
    session: Session, *, notification_id: UUID, at: datetime, error: str | None = None
) -> None:
    """What delivery made of a notice: sent at ``at``, or failed with ``error``."""
    notice = session.get(Notification, notification_id)
    if notice is None:
        return
    if error is None:
        notice.status, notice.sent_at, notice.last_error = NotificationStatus.SENT, at, None
    else:
        notice.status, notice.last_error = NotificationStatus.FAILED, error[:2000]
    session.flush()


def purge_bodies(session: Session, *, before: datetime, limit: int) -> int:
    """Retention: blank the bodies of up to ``limit`` notices created before ``before``
    (kind, channel, status and times stay); how many."""
    ids = repository.stale_ids(session, before=before, limit=limit)
    repository.remove_bodies(session, ids, at=utcnow())
    return len(ids)
