"""The message log: every message queued, sent, failed (with the reason) or clicked.

A message is recorded once per key (one per trigger firing and cart, one per campaign and
person), then delivered by a durable timer (``marketing.deliver``), one timer per attempt:
a failed attempt schedules the next with backoff; after the last it is marked failed.

Each attempt is three steps: claim (committed), send with no transaction open, record the
outcome in a new transaction. A crash between claim and record loses nothing: the claim's
lease runs out and the message is sent again (at least once, as seldom twice as that
allows)."""

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy.orm import Session

from omnikanal.config import Settings
from omnikanal.conversations import replies as conversation_replies
from omnikanal.conversations.models import DeliveryStatus
from omnikanal.errors import NotFound
from omnikanal.kit.ids import new_id
from omnikanal.kit.leases import retry_delay
from omnikanal.kit.time import utcnow
from omnikanal.marketing import delivery, repository, suppression, templates
from omnikanal.marketing.models import Message, MessageStatus, Purpose
from omnikanal.marketing.service import MarketingErrorCode, MessageFailed, MessageSent, family
from omnikanal.marketing.tokens import settings_of
from omnikanal.notifications import service as notifications_service
from omnikanal.timers import service as timers_service
from omnikanal.timers.models import Timer
from omnikanal.uow import record_event

DELIVER = "marketing.deliver"
SUPPRESSED_ADDRESS = "the address is on the suppression list (its person asked to be erased)"
# Longer than any one send may take (SMTP's and the webhooks' timeouts are seconds).
SEND_LEASE = timedelta(minutes=10)


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
    purpose: str = Purpose.MARKETING,
) -> tuple[Message, bool]:
    """Record the message (once per key) and schedule its delivery; True when new.

    Marketing to an address on the suppression list (an erased person's) is recorded as
    suppressed, whatever the profile it reaches now has consented to."""
    existing = repository.message_by_key(session, key)
    if existing is not None:
        return existing, False
    if (
        status == MessageStatus.QUEUED
        and purpose == Purpose.MARKETING
        and suppression.is_suppressed(session, channel=channel, recipient=recipient)
    ):
        status, reason = MessageStatus.SUPPRESSED, SUPPRESSED_ADDRESS
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


def _attempt_key(message: Message) -> str:
    return f"{message.id}:{message.attempts}"


def _schedule_attempt(session: Session, message: Message, *, due_at: datetime) -> None:
    timers_service.schedule(
        session,
        kind=DELIVER,
        key=_attempt_key(message),
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
    """A notice's message (``notices.py``) tells the notice what became of it, a reply's
    (``replies.py``) the reply."""
    context = message.context or {}
    if context.get("conversation_message_id"):
        _write_back_reply(session, message, retrying=False)
    notification_id = context.get("notification_id")
    if not notification_id:
        return
    notifications_service.mark_delivered(
        session,
        notification_id=UUID(notification_id),
        at=message.sent_at or utcnow(),
        error=message.last_error if message.status == MessageStatus.FAILED else None,
    )


def _write_back_reply(session: Session, message: Message, *, retrying: bool) -> None:
    reply_id = (message.context or {}).get("conversation_message_id")
    if not reply_id:
        return
    if retrying:
        status = DeliveryStatus.QUEUED
    elif message.status == MessageStatus.FAILED:
        status = DeliveryStatus.FAILED
    else:
        status = DeliveryStatus.SENT
    conversation_replies.mark_delivery(
        session,
        message_id=UUID(reply_id),
        status=status,
        at=message.sent_at or utcnow(),
        error=None if status == DeliveryStatus.SENT else message.last_error,
    )


def deliver_timer(session: Session, timer: Timer) -> None:
    """The worker's delivery, an edge of its own: the claim is committed before sending and
    the outcome recorded in a new transaction, so no transaction (on SQLite: the write lock)
    is held while the provider answers, which may take many seconds."""
    claimed = claim(session, message_id=UUID(timer.payload["message_id"]), timer_key=timer.key)
    session.commit()
    if claimed is None:
        return
    error = send(settings_of(session), claimed)
    finish(session, message_id=claimed.id, attempt=claimed.attempts, error=error)


def deliver(session: Session, *, message_id: UUID) -> Message | None:
    """One attempt within the caller's transaction (the demo, tests): claim, send, record."""
    claimed = claim(session, message_id=message_id)
    if claimed is None:
        return repository.get_message(session, message_id)
    error = send(settings_of(session), claimed)
    return finish(session, message_id=claimed.id, attempt=claimed.attempts, error=error)


def claim(session: Session, *, message_id: UUID, timer_key: str | None = None) -> Message | None:
    """Take a queued message for one attempt: rendered, counted and marked sending, with a
    lease. The lease is a timer due when it runs out: if the sender vanished (a crash
    between claim and record), it fires and the message is claimed and sent again.

    None when there is nothing to send: already sent or failed, being sent under a lease
    that has not run out (``timer_key`` is not the current lease's), or not renderable
    (then failed at once, with the reason)."""
    message = repository.get_message(session, message_id, lock=True)
    if message is None:
        return None
    lapsed = message.status == MessageStatus.SENDING and timer_key == _attempt_key(message)
    if message.status != MessageStatus.QUEUED and not lapsed:
        return None
    try:
        rendered = templates.render(
            message.template, channel=message.channel, context=message.context
        )
    except templates.RenderError as exc:
        _fail(session, message, str(exc))
        return None
    message.subject, message.body_text, message.body_html = (
        rendered.subject,
        rendered.text,
        rendered.html,
    )
    message.attempts += 1
    message.status = MessageStatus.SENDING
    _schedule_attempt(session, message, due_at=utcnow() + SEND_LEASE)
    session.flush()
    return message


def send(settings: Settings, message: Message) -> str | None:
    """Hand a claimed message to its provider; the reason when that failed. No database."""
    try:
        delivery.send(settings, message)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def finish(
    session: Session, *, message_id: UUID, attempt: int, error: str | None
) -> Message | None:
    """Record what one claimed attempt made of the message: sent, retried with backoff, or
    failed after the last attempt. An attempt whose claim was taken over (its lease ran
    out and another worker claimed again) records nothing."""
    message = repository.get_message(session, message_id, lock=True)
    if message is None or message.status != MessageStatus.SENDING or message.attempts != attempt:
        return message
    settings = settings_of(session)
    if error is not None and message.attempts < settings.delivery_max_attempts:
        message.status = MessageStatus.QUEUED
        message.last_error = error[:2000]
        # The lease's timer becomes the next attempt's.
        _schedule_attempt(session, message, due_at=utcnow() + retry_delay(message.attempts))
        # A reply says why it is still waiting.
        _write_back_reply(session, message, retrying=True)
        return message
    timers_service.cancel(session, kind=DELIVER, key=_attempt_key(message))
    if error is not None:
        _fail(session, message, f"gave up after {message.attempts} attempts: {error}")
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
