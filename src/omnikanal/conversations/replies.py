"""Agents' replies on their way to the customer (S3).

A reply is recorded with ``delivery_status`` queued; marketing's delivery adapters send it
on its channel (email over SMTP or into the mail folder, a phone reply as SMS, social and
chat through their signed webhooks) and write back sent or failed, with the reason. A
conversation counts its replies that failed (``undelivered_replies``) so the inbox shows
them until a later reply gets through.

An email reply carries the threading headers a mail app groups by: its own
``Message-ID`` (kept as the message's ``external_id``), ``In-Reply-To`` the customer's
latest email and ``References`` every email of the conversation, oldest first. The
customer's answer, posted back raw (``inbound_email.py``), names those ids, and lands in
the same conversation.
"""

from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr
from uuid import UUID

from sqlalchemy.orm import Session

from omnikanal.config import settings_of
from omnikanal.conversations import repository
from omnikanal.conversations.models import (
    Conversation,
    ConversationMessage,
    DeliveryStatus,
    Direction,
    MessageKind,
)
from omnikanal.conversations.service import get, transcript

# The References header is kept to the latest ids: mail apps need only a few to thread.
MAX_REFERENCES = 20
DEFAULT_SUBJECT = "Your conversation with us"


@dataclass(frozen=True)
class EmailThread:
    message_id: str
    in_reply_to: str | None
    references: list[str]
    # The address the customer last wrote from, when they emailed.
    reply_to: str | None


@dataclass(frozen=True)
class ReplyDelivery:
    """What a delivery adapter needs to send one reply."""

    message_id: UUID
    conversation_id: UUID
    profile_id: UUID
    channel: str
    subject: str
    body: str
    thread: EmailThread | None


def mail_domain(session: Session) -> str:
    """The domain of the hub's sender address: Message-IDs are made under it."""
    _, address = parseaddr(settings_of(session).mail_from)
    domain = address.rpartition("@")[2].strip().lower()
    return domain or "omnikanal.invalid"


def email_message_id(session: Session, message_id: UUID) -> str:
    return f"<reply.{message_id}@{mail_domain(session)}>"


def subject_of(conversation: Conversation) -> str:
    subject = (conversation.subject or "").strip()
    if not subject:
        return DEFAULT_SUBJECT
    return subject if subject.lower().startswith("re:") else f"Re: {subject}"[:300]


def _email_thread(
    session: Session, conversation: Conversation, reply: ConversationMessage
) -> EmailThread:
    emails = [
        m
        for m in transcript(session, conversation)
        if m.channel == "email" and m.external_id and m.id != reply.id
    ]
    inbound = [m for m in emails if m.direction == Direction.INBOUND]
    latest = inbound[-1] if inbound else (emails[-1] if emails else None)
    return EmailThread(
        message_id=reply.external_id or email_message_id(session, reply.id),
        in_reply_to=latest.external_id if latest else None,
        references=[str(m.external_id) for m in emails][-MAX_REFERENCES:],
        reply_to=_sender_of(inbound[-1]) if inbound else None,
    )


def _sender_of(message: ConversationMessage) -> str | None:
    # The inbound email's From, kept as its author (customers' messages have no author).
    return message.author if message.author and "@" in message.author else None


def delivery(session: Session, *, message_id: UUID) -> ReplyDelivery | None:
    """The reply to send, or None when it is not an agent's reply waiting for delivery."""
    message = repository.get_message(session, message_id)
    if (
        message is None
        or message.kind != MessageKind.MESSAGE
        or message.direction != Direction.OUTBOUND
        or message.delivery_status != DeliveryStatus.QUEUED
        or message.channel is None
    ):
        return None
    conversation = get(session, conversation_id=message.conversation_id)
    return ReplyDelivery(
        message_id=message.id,
        conversation_id=conversation.id,
        profile_id=conversation.profile_id,
        channel=message.channel,
        subject=message.subject or subject_of(conversation),
        body=message.body,
        thread=(
            _email_thread(session, conversation, message) if message.channel == "email" else None
        ),
    )


def mark_delivery(
    session: Session, *, message_id: UUID, status: str, at: datetime, error: str | None = None
) -> None:
    """What delivery made of a reply: sent, failed (with the reason), or still queued with
    the reason its last attempt failed. The conversation counts the failures until a
    later reply is sent."""
    message = repository.get_message(session, message_id)
    if message is None or message.delivery_status in (None, DeliveryStatus.SENT):
        return
    conversation = get(session, conversation_id=message.conversation_id, lock=True)
    was_failed = message.delivery_status == DeliveryStatus.FAILED
    message.delivery_status = status
    message.delivery_error = error[:2000] if error else None
    if status == DeliveryStatus.SENT:
        message.delivered_at = at
        # A reply that got through answers for the ones before it.
        conversation.undelivered_replies = 0
    elif status == DeliveryStatus.FAILED and not was_failed:
        conversation.undelivered_replies += 1
    session.flush()
