"""Agents' replies delivered on their channel (S3): ``conversation.reply_added`` queues one
transactional message in the message log, sent by the same adapters and durable timers as
every other message; what became of it is written back to the reply (``messages.py``).

Where it goes: an email to the address the customer last wrote from (else their latest
address), a phone conversation's reply as SMS to their number, a social reply to their
handle through the social webhook, a chat reply to the chat widget's back end. The person
asked, so no opt-in is needed; with nowhere to send it, the reply fails at once with the
reason."""

from typing import Any
from uuid import UUID

from sqlalchemy.orm import Session

from omnikanal.conversations import replies as conversation_replies
from omnikanal.conversations.models import DeliveryStatus
from omnikanal.customers import service as customers_service
from omnikanal.customers.identity import SOCIAL_TYPES
from omnikanal.kit.time import utcnow
from omnikanal.marketing import messages
from omnikanal.marketing.models import Purpose
from omnikanal.outbox.registry import PublishedEvent

KIND = "conversation_reply"
TEMPLATE = "reply"
# A conversation's channel -> the adapter that reaches the customer there.
DELIVERY_CHANNEL = {"email": "email", "phone": "sms", "social": "social", "chat": "chat"}


def _recipient(
    session: Session, reply: conversation_replies.ReplyDelivery, channel: str
) -> tuple[str | None, str]:
    """The address on the channel, or None and why there is none."""
    if channel == "email":
        address = (reply.thread.reply_to if reply.thread else None) or customers_service.email_of(
            session, profile_id=reply.profile_id
        )
        return address, "no email address: the customer gave none"
    if channel == "sms":
        found = customers_service.latest_identifier(
            session, profile_id=reply.profile_id, types=("phone",)
        )
        return (found[1] if found else None), "no phone number: the customer gave none"
    if channel == "social":
        found = customers_service.latest_identifier(
            session, profile_id=reply.profile_id, types=SOCIAL_TYPES
        )
        return (f"{found[0]}:{found[1]}" if found else None), "no social handle known"
    # The chat widget's back end finds the visitor by the conversation and the person.
    return str(reply.profile_id), ""


def _context(reply: conversation_replies.ReplyDelivery) -> dict[str, Any]:
    context: dict[str, Any] = {
        "subject": reply.subject,
        "body": reply.body,
        "unsubscribe_url": None,
        "conversation_id": str(reply.conversation_id),
        "conversation_message_id": str(reply.message_id),
    }
    if reply.thread is not None:
        context["email_headers"] = {
            "Message-ID": reply.thread.message_id,
            "In-Reply-To": reply.thread.in_reply_to,
            "References": " ".join(reply.thread.references) or None,
        }
    return context


def reply_added(session: Session, event: PublishedEvent) -> None:
    reply = conversation_replies.delivery(session, message_id=UUID(event.payload["message_id"]))
    if reply is None:
        return
    channel = DELIVERY_CHANNEL.get(reply.channel)
    if channel is None:
        conversation_replies.mark_delivery(
            session,
            message_id=reply.message_id,
            status=DeliveryStatus.FAILED,
            at=utcnow(),
            error=f"replies cannot be delivered on {reply.channel}",
        )
        return
    recipient, missing = _recipient(session, reply, channel)
    if recipient is None:
        conversation_replies.mark_delivery(
            session,
            message_id=reply.message_id,
            status=DeliveryStatus.FAILED,
            at=utcnow(),
            error=missing,
        )
        return
    messages.queue(
        session,
        key=f"reply:{reply.message_id}",
        kind=KIND,
        profile_id=reply.profile_id,
        channel=channel,
        recipient=recipient,
        template=TEMPLATE,
        context=_context(reply),
        purpose=Purpose.TRANSACTIONAL,
    )
