"""Messages from the channels: a chat line, an email, a call's notes or transcript, a
social post, placed with its person by the identity graph and added to their one open
conversation (a new one when none is open).

Placing takes the identity graph's lock, so messages for one person are taken in turn:
two channels writing at once still make one conversation, and a channel's repeated
``external_id`` is stored once.
"""

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy.orm import Session

from omnikanal.auth.models import Role
from omnikanal.auth.service import StaffActor
from omnikanal.conversations import repository
from omnikanal.conversations.models import (
    Conversation,
    ConversationMessage,
    ConversationStatus,
    Direction,
)
from omnikanal.conversations.service import (
    ConversationErrorCode,
    ConversationOpened,
    MessageChannel,
    MessageReceived,
    add_message,
    change_status,
    consolidate,
    get,
    on_timeline,
)
from omnikanal.customers import service as customers_service
from omnikanal.errors import Forbidden, RuleViolation
from omnikanal.kit.ids import new_id
from omnikanal.kit.time import utcnow
from omnikanal.uow import record_event

# -- what a channel sends --


@dataclass(frozen=True)
class Sender:
    """Whatever identifies the customer on the channel the message came from."""

    user_id: str | None = None
    anonymous_id: str | None = None
    email: str | None = None
    phone: str | None = None
    loyalty_card: str | None = None
    # {"instagram": "@anna"}
    social: dict[str, str] = dataclasses.field(default_factory=dict)

    def traits(self) -> dict[str, str]:
        found = {"email": self.email, "phone": self.phone, "loyalty_card": self.loyalty_card}
        return {**{k: v for k, v in found.items() if v}, **self.social}

    def given(self) -> list[str]:
        """The request fields that were filled in, for error messages."""
        named = {
            "user_id": self.user_id,
            "anonymous_id": self.anonymous_id,
            "email": self.email,
            "phone": self.phone,
            "loyalty_card": self.loyalty_card,
        }
        return [name for name, value in named.items() if value] + [
            f"social.{kind}" for kind in self.social
        ]


@dataclass(frozen=True)
class IncomingMessage:
    direction: str
    body: str
    subject: str | None = None
    external_id: str | None = None
    sent_at: datetime | None = None
    # Who wrote an outbound message (the channel's agent); by default the key's name.
    author: str | None = None
    # An inbound email's sender address: replies go back to it.
    reply_address: str | None = None


@dataclass(frozen=True)
class Receipt:
    conversation: Conversation
    message: ConversationMessage
    profile_id: UUID
    new_conversation: bool
    duplicate: bool


def message_channel(actor: StaffActor, channel: MessageChannel | None) -> str:
    """A channel back end posts for its own channel; agents and admins say which."""
    if actor.role is Role.CHANNEL:
        own = actor.channel.value if actor.channel else None
        if own not in tuple(MessageChannel) or (channel is not None and channel.value != own):
            raise Forbidden(
                ConversationErrorCode.NOT_YOUR_CHANNEL,
                f"This key speaks for {own or 'no channel'}; it cannot post "
                f"{channel.value if channel else 'conversation'} messages.",
            )
        return str(own)
    if channel is None:
        raise RuleViolation(
            ConversationErrorCode.CHANNEL_REQUIRED,
            "Say which channel the message came on: chat, email, phone or social.",
            errors=[{"field": "channel", "message": "required for this key"}],
        )
    return channel.value


def receive_message(
    session: Session,
    *,
    actor: StaffActor,
    channel: str,
    sender: Sender,
    message: IncomingMessage,
) -> Receipt:
    """Store a message from any channel in its person's open conversation (or a new one).

    A repeat of the channel's ``external_id`` answers with the stored message."""
    repeated = _repeat(session, channel, message.external_id)
    if repeated is not None:
        return repeated
    keys = customers_service.identifiers_for(
        session, user_id=sender.user_id, anonymous_id=sender.anonymous_id, traits=sender.traits()
    )
    if not keys:
        given = sender.given()
        raise RuleViolation(
            ConversationErrorCode.IDENTIFIER_REQUIRED,
            "A message belongs to a person: give an anonymous_id, user_id, email, phone, "
            "loyalty_card or social handle that identifies the sender.",
            errors=[{"field": name, "message": "not a usable identifier"} for name in given]
            or [{"field": "anonymous_id", "message": "an identifier is required"}],
        )
    now = utcnow()
    # Placing takes the identity graph's lock: from here on, messages are taken in turn.
    placement = customers_service.place(session, identifiers=keys, channel=channel, at=now)
    repeated = _repeat(session, channel, message.external_id)
    if repeated is not None:
        return repeated
    conversation = consolidate(session, profile_id=placement.profile_id)
    new_conversation = conversation is None
    if conversation is None:
        conversation = Conversation(
            id=new_id(),
            status=ConversationStatus.OPEN,
            profile_id=placement.profile_id,
            anchor_id=placement.anchor_id,
            subject=message.subject,
            channels=[channel],
            last_channel=channel,
            preview="",
            message_count=0,
            opened_at=now,
            last_activity_at=now,
        )
        session.add(conversation)
        session.flush()
        record_event(
            session,
            ConversationOpened(
                conversation_id=conversation.id,
                profile_id=placement.profile_id,
                channel=channel,
            ),
        )
    stored = add_message(
        session,
        conversation,
        actor=actor,
        channel=channel,
        direction=message.direction,
        body=message.body,
        subject=message.subject,
        external_id=message.external_id,
        author=(message.author or actor.name)
        if message.direction == Direction.OUTBOUND
        else message.reply_address,
        sent_at=min(message.sent_at or now, now),
        now=now,
    )
    if message.direction == Direction.INBOUND and conversation.status == ConversationStatus.PENDING:
        change_status(session, conversation, ConversationStatus.OPEN, now)
    record_event(
        session,
        MessageReceived(
            conversation_id=conversation.id,
            message_id=stored.id,
            profile_id=placement.profile_id,
            channel=channel,
            direction=message.direction,
            external_id=message.external_id,
            new_conversation=new_conversation,
        ),
    )
    on_timeline(
        session,
        actor,
        conversation,
        stored,
        profile_id=placement.profile_id,
        anchor_id=placement.anchor_id,
    )
    return Receipt(
        conversation=conversation,
        message=stored,
        profile_id=placement.profile_id,
        new_conversation=new_conversation,
        duplicate=False,
    )


def _repeat(session: Session, channel: str, external_id: str | None) -> Receipt | None:
    if external_id is None:
        return None
    stored = repository.message_by_external_id(session, channel=channel, external_id=external_id)
    if stored is None:
        return None
    conversation = get(session, conversation_id=stored.conversation_id)
    return Receipt(
        conversation=conversation,
        message=stored,
        profile_id=customers_service.live_profile(session, conversation.profile_id).id,
        new_conversation=False,
        duplicate=True,
    )
