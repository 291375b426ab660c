"""Notices the customer is owed (``notifications``: "your order is ready") are delivered
as transactional messages: no opt-in needed, but an opt-out on that channel is honoured.
What became of each is written back to the notice (``messages.py``)."""

from uuid import UUID

from sqlalchemy.orm import Session

from omnikanal.kit.time import utcnow
from omnikanal.marketing import messages
from omnikanal.marketing.models import MessageStatus, Purpose
from omnikanal.marketing.service import allowed
from omnikanal.notifications import service as notifications_service
from omnikanal.outbox.registry import PublishedEvent


def notification_queued(session: Session, event: PublishedEvent) -> None:
    notice = notifications_service.get(
        session, notification_id=UUID(event.payload["notification_id"])
    )
    if notice is None or notice.profile_id is None:
        return
    reason = None
    if not allowed(
        session, profile_id=notice.profile_id, purpose=Purpose.TRANSACTIONAL, channel=notice.channel
    ):
        reason = f"opted out of transactional {notice.channel}"
    message, created = messages.queue(
        session,
        key=f"notification:{notice.id}",
        kind=notice.kind,
        profile_id=notice.profile_id,
        channel=notice.channel,
        recipient=notice.recipient,
        template="notice",
        context={
            "subject": notice.subject,
            "body": notice.body,
            "unsubscribe_url": None,
            "notification_id": str(notice.id),
        },
        status=MessageStatus.SUPPRESSED if reason else MessageStatus.QUEUED,
        reason=reason,
        purpose=Purpose.TRANSACTIONAL,
    )
    if created and reason is not None:
        notifications_service.mark_delivered(
            session, notification_id=notice.id, at=utcnow(), error=reason
        )
