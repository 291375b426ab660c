"""The message log: every message queued, sent, failed (with the reason) or clicked.

A message is recorded once per key (one per trigger firing and cart, one per campaign and
person), then delivered by a durable timer (``marketing.deliver``), one timer per attempt:
a failed attempt schedules the next with backoff; after the last it is marked failed."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.orm import Session

from omnikanal.errors import NotFound
from omnikanal.kit.ids import new_id
from omnikanal.kit.leases import retry_delay
from omnikanal.kit.time import utcnow
from omnikanal.marketing import delivery, repository, templates
from omnikanal.marketing.models import Message, MessageStatus
from omnikanal.marketing.service import MarketingErrorCode, MessageFailed, MessageSent, family
from omnikanal.marketing.tokens import settings_of
from omnikanal.notifications import service as notifications_service
from omnikanal.timers import service as timers_service
from omnikanal.timers.models import Timer
from omnikanal.uow import record_event

DELIVER = "marketing.deliver"


def queue(
    session: Session,
    *,
    key: str,
    kind: str,
    profile_id: UUID,
    channel: str,
    recipient: str | None,
    template: str,
    context: dict[str, Any],
    cart_id: UUID | None = None,
    campaign_id: UUID | None = None,
    status: str = MessageStatus.QUEUED,
    reason: str | None = None,
    message_id: UUID | None = None,
    deliver_at: datetime | None = None,
) -> tuple[Message, bool]:
    """Record the message (once per key) and schedule its delivery; True when new."""
    existing = repository.message_by_key(session, key)
    if existing is not None:
        return existing, False
    message = Message(
        id=message_id or new_id(),
        key=key,
        kind=kind,
        profile_id=profile_id,
        channel=channel,
        recipient=recipient,
        template=template,
        context=context,
        cart_id=cart_id,
        campaign_id=campaign_id,
        status=status,
        last_error=reason,
    )
    session.add(message)
    session.flush()
    if status == MessageStatus.QUEUED:
        _schedule_attempt(session, message, due_at=deliver_at or utcnow())
    return message, True


def _schedule_attempt(session: Session, message: Message, *, due_at: datetime) -> None:
    timers_service.schedule(
        session,
        kind=DELIVER,
        key=f"{message.id}:{message.attempts}",
        due_at=due_at,
        payload={"message_id": str(message.id)},
    )


def _fail(session: Session, message: Message, reason: str) -> None:
    message.status = MessageStatus.FAILED
    message.last_error = reason[:2000]
    session.flush()
    _write_back(session, message)
    record_event(
        session,
        MessageFailed(
            message_id=message.id,
            kind=message.kind,
            profile_id=message.profile_id,
            channel=message.channel,
            reason=message.last_error,
        ),
    )


def _write_back(session: Session, message: Message) -> None:
    """A notice's message (``notices.py``) tells the notice what became of it."""
    notification_id = (message.context or {}).get("notification_id")
    if not notification_id:
        return
    notifications_service.mark_delivered(
        session,
        notification_id=UUID(notification_id),
        at=message.sent_at or utcnow(),
        error=message.last_error if message.status == MessageStatus.FAILED else None,
    )


def deliver_timer(session: Session, timer: Timer) -> None:
    deliver(session, message_id=UUID(timer.payload["message_id"]))


def deliver(session: Session, *, message_id: UUID) -> Message | None:
    """One attempt: render, send; a render error fails at once, a send error is retried."""
    message = repository.get_message(session, message_id, lock=True)
    if message is None or message.status != MessageStatus.QUEUED:
        return message
    settings = settings_of(session)
    try:
        rendered = templates.render(
            message.template, channel=message.channel, context=message.context
        )
    except templates.RenderError as exc:
        _fail(session, message, str(exc))
        return message
    message.subject, message.body_text, message.body_html = (
        rendered.subject,
        rendered.text,
        rendered.html,
    )
    message.attempts += 1
    try:
        delivery.send(settings, message)
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}"
        if message.attempts >= settings.delivery_max_attempts:
            _fail(session, message, f"gave up after {message.attempts} attempts: {reason}")
        else:
            message.last_error = reason[:2000]
            _schedule_attempt(session, message, due_at=utcnow() + retry_delay(message.attempts))
        return message
    message.status = MessageStatus.SENT
    message.sent_at = utcnow()
    message.last_error = None
    session.flush()
    _write_back(session, message)
    record_event(
        session,
        MessageSent(
            message_id=message.id,
            kind=message.kind,
            profile_id=message.profile_id,
            channel=message.channel,
        ),
    )
    return message


def mark_clicked(session: Session, *, message_id: UUID, at: datetime) -> Message | None:
    message = repository.get_message(session, message_id)
    if message is None:
        return None
    if message.clicked_at is None:
        message.clicked_at = at
    if message.status == MessageStatus.SENT:
        message.status = MessageStatus.CLICKED
    session.flush()
    return message


def mark_opened(session: Session, *, message_id: UUID, at: datetime) -> None:
    message = repository.get_message(session, message_id)
    if message is not None and message.opened_at is None:
        message.opened_at = at
        session.flush()


def log(
    session: Session, *, profile_id: UUID | None, status: str | None, limit: int
) -> Sequence[Message]:
    ids = family(session, profile_id)[1] if profile_id is not None else None
    return repository.messages(session, profile_ids=ids, status=status, limit=limit)


def get(session: Session, *, message_id: UUID) -> Message:
    message = repository.get_message(session, message_id)
    if message is None:
        raise NotFound(MarketingErrorCode.MESSAGE_NOT_FOUND, f"No message {message_id}.")
    return message
