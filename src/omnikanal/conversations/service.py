"""Conversations that follow the customer (S3): one open conversation per person across
chat, email, phone and social, and what agents do with it.

A message from any channel is placed with its person by the identity graph (customers
service) and joins the person's open (or pending) conversation, keeping its own channel;
a closed conversation stays closed and the next message starts a new one. When two
profiles turn out to be one person, their open conversations become one.

The read model an agent continues from (profile, orders, cart, loyalty) is in
``context.py``.
"""

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import ClassVar
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
    MessageKind,
)
from omnikanal.customers import service as customers_service
from omnikanal.errors import Conflict, Forbidden, NotFound, RuleViolation
from omnikanal.events import service as events_service
from omnikanal.kit.ids import new_id
from omnikanal.kit.time import utcnow
from omnikanal.uow import DomainEvent, record_event

PREVIEW_CHARS = 200
EXCERPT_CHARS = 140


class ConversationErrorCode(StrEnum):
    CONVERSATION_NOT_FOUND = "conversation_not_found"
    IDENTIFIER_REQUIRED = "identifier_required"
    CHANNEL_REQUIRED = "channel_required"
    NOT_YOUR_CHANNEL = "not_your_channel"
    CONVERSATION_CLOSED = "conversation_closed"
    CONVERSATION_NOT_CLOSED = "conversation_not_closed"
    CSAT_ALREADY_RECORDED = "csat_already_recorded"


class MessageChannel(StrEnum):
    """The channels people write and talk on (the auth channels of the same names)."""

    CHAT = "chat"
    EMAIL = "email"
    PHONE = "phone"
    SOCIAL = "social"


# -- domain events (ids and facts; message bodies stay in the hub) --


@dataclasses.dataclass(frozen=True)
class ConversationOpened(DomainEvent):
    type: ClassVar[str] = "conversation.opened"
    conversation_id: UUID
    profile_id: UUID
    channel: str


@dataclasses.dataclass(frozen=True)
class MessageReceived(DomainEvent):
    type: ClassVar[str] = "conversation.message_received"
    conversation_id: UUID
    message_id: UUID
    profile_id: UUID
    channel: str
    direction: str
    external_id: str | None
    new_conversation: bool


@dataclasses.dataclass(frozen=True)
class ReplyAdded(DomainEvent):
    """An agent's answer, recorded here; delivering it on its channel is for later."""

    type: ClassVar[str] = "conversation.reply_added"
    conversation_id: UUID
    message_id: UUID
    profile_id: UUID
    channel: str
    author: str


@dataclasses.dataclass(frozen=True)
class ConversationAssigned(DomainEvent):
    type: ClassVar[str] = "conversation.assigned"
    conversation_id: UUID
    profile_id: UUID
    assignee: str | None
    previous: str | None


@dataclasses.dataclass(frozen=True)
class ConversationStatusChanged(DomainEvent):
    type: ClassVar[str] = "conversation.status_changed"
    conversation_id: UUID
    profile_id: UUID
    status: str
    previous: str


@dataclasses.dataclass(frozen=True)
class ConversationsMerged(DomainEvent):
    type: ClassVar[str] = "conversation.merged"
    conversation_id: UUID
    merged_conversation_ids: list[UUID]
    profile_id: UUID


@dataclasses.dataclass(frozen=True)
class CsatRecorded(DomainEvent):
    type: ClassVar[str] = "conversation.csat_recorded"
    conversation_id: UUID
    profile_id: UUID
    score: int
    channels: list[str]
    assignee: str | None


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


@dataclass(frozen=True)
class Receipt:
    conversation: Conversation
    message: ConversationMessage
    profile_id: UUID
    new_conversation: bool
    duplicate: bool


def excerpt(body: str, limit: int = EXCERPT_CHARS) -> str:
    text = " ".join(body.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


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


# -- the person --


def family(session: Session, profile_id: UUID) -> tuple[UUID, list[UUID]]:
    """The live profile and every profile merged into it."""
    live = customers_service.live_profile(session, profile_id).id
    return live, [live, *customers_service.merged_descendants(session, live)]


def consolidate(session: Session, *, profile_id: UUID) -> Conversation | None:
    """The person's one active conversation: when profiles merged and each had one, the
    most recently active keeps every message and the others point at it. Safe to run
    again (it finds one and does nothing)."""
    live, profiles = family(session, profile_id)
    active = repository.active_of(session, profiles, lock=True)
    if len(active) <= 1:
        return active[0] if active else None
    survivor, others = active[0], active[1:]
    repository.move_messages(session, from_ids=[c.id for c in others], to_id=survivor.id)
    channels = list(survivor.channels)
    for other in others:
        channels += [c for c in other.channels if c not in channels]
        survivor.message_count += other.message_count
        survivor.subject = survivor.subject or other.subject
        survivor.assignee = survivor.assignee or other.assignee
        survivor.opened_at = min(survivor.opened_at, other.opened_at)
        other.status = ConversationStatus.MERGED
        other.merged_into = survivor.id
        other.message_count = 0
    survivor.channels = channels
    survivor.profile_id = live
    session.flush()
    record_event(
        session,
        ConversationsMerged(
            conversation_id=survivor.id,
            merged_conversation_ids=[c.id for c in others],
            profile_id=live,
        ),
    )
    return survivor


# -- messages from the channels --


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
    stored = _add_message(
        session,
        conversation,
        actor=actor,
        channel=channel,
        direction=message.direction,
        body=message.body,
        subject=message.subject,
        external_id=message.external_id,
        author=(message.author or actor.name) if message.direction == Direction.OUTBOUND else None,
        sent_at=min(message.sent_at or now, now),
        now=now,
    )
    if message.direction == Direction.INBOUND and conversation.status == ConversationStatus.PENDING:
        _change_status(session, conversation, ConversationStatus.OPEN, now)
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
    _on_timeline(
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


def _add_message(
    session: Session,
    conversation: Conversation,
    *,
    actor: StaffActor,
    channel: str | None,
    direction: str | None,
    body: str,
    subject: str | None,
    external_id: str | None,
    author: str | None,
    sent_at: datetime,
    now: datetime,
    kind: str = MessageKind.MESSAGE,
) -> ConversationMessage:
    stored = ConversationMessage(
        id=new_id(),
        conversation_id=conversation.id,
        kind=kind,
        channel=channel,
        direction=direction,
        subject=subject,
        body=body,
        external_id=external_id,
        author=author,
        recorded_by=actor.key_id,
        sent_at=sent_at,
        received_at=now,
    )
    session.add(stored)
    conversation.last_activity_at = now
    if kind == MessageKind.MESSAGE and channel is not None:
        conversation.message_count += 1
        conversation.preview = excerpt(body, PREVIEW_CHARS)
        conversation.last_channel = channel
        conversation.subject = conversation.subject or subject
        if channel not in conversation.channels:
            conversation.channels = [*conversation.channels, channel]
    session.flush()
    return stored


def _on_timeline(
    session: Session,
    actor: StaffActor,
    conversation: Conversation,
    message: ConversationMessage,
    *,
    profile_id: UUID,
    anchor_id: UUID,
) -> None:
    """Customer-visible messages go on the person's timeline; notes never do."""
    assert message.channel is not None
    inbound = message.direction == Direction.INBOUND
    events_service.record_activity(
        session,
        credential_id=actor.key_id,
        channel=message.channel,
        location=actor.location,
        profile_id=customers_service.live_profile(session, profile_id).id,
        anchor_id=anchor_id,
        event="Message Received" if inbound else "Message Sent",
        properties={
            "conversation_id": str(conversation.id),
            "message_id": str(message.id),
            "channel": message.channel,
            "direction": message.direction,
            "subject": message.subject,
            "excerpt": excerpt(message.body),
        },
        message_id=f"conversation-message-{message.id}",
        at=message.sent_at,
    )


# -- reading --


def get(session: Session, *, conversation_id: UUID, lock: bool = False) -> Conversation:
    """A conversation; a merged-away one answers with the conversation it joined."""
    conversation = repository.get(session, conversation_id, lock=lock)
    seen: set[UUID] = set()
    while (
        conversation is not None
        and conversation.merged_into is not None
        and conversation.id not in seen
    ):
        seen.add(conversation.id)
        conversation = repository.get(session, conversation.merged_into, lock=lock)
    if conversation is None:
        raise NotFound(
            ConversationErrorCode.CONVERSATION_NOT_FOUND, f"No conversation {conversation_id}."
        )
    return conversation


def transcript(session: Session, conversation: Conversation) -> Sequence[ConversationMessage]:
    """Every message on every channel, and the agents' notes, oldest first."""
    return repository.messages(session, [conversation.id])


def inbox(
    session: Session,
    *,
    status: str | None,
    assignee: str | None,
    profile_id: UUID | None,
    before: tuple[datetime, UUID] | None,
    limit: int,
) -> Sequence[Conversation]:
    """Conversations with the newest activity first (merged-away ones left out)."""
    profiles = family(session, profile_id)[1] if profile_id is not None else None
    return repository.inbox(
        session,
        status=status,
        assignee=assignee,
        profile_ids=profiles,
        before=before,
        limit=limit,
    )


# -- what agents do --


def _changeable(session: Session, conversation_id: UUID) -> Conversation:
    conversation = get(session, conversation_id=conversation_id, lock=True)
    if conversation.status == ConversationStatus.CLOSED:
        raise Conflict(
            ConversationErrorCode.CONVERSATION_CLOSED,
            f"Conversation {conversation.id} is closed; the customer's next message starts "
            "a new one.",
        )
    return conversation


def _change_status(
    session: Session, conversation: Conversation, status: str, now: datetime
) -> None:
    previous = conversation.status
    conversation.status = status
    conversation.last_activity_at = now
    if status == ConversationStatus.CLOSED:
        conversation.closed_at = now
    session.flush()
    record_event(
        session,
        ConversationStatusChanged(
            conversation_id=conversation.id,
            profile_id=conversation.profile_id,
            status=status,
            previous=previous,
        ),
    )


def set_status(session: Session, *, conversation_id: UUID, status: str) -> Conversation:
    """open ⇄ pending, either → closed. Closed is final."""
    conversation = _changeable(session, conversation_id)
    if conversation.status != status:
        _change_status(session, conversation, status, utcnow())
    return conversation


def assign(session: Session, *, conversation_id: UUID, agent: str | None) -> Conversation:
    """Give the conversation to an agent (a name or key id); None leaves it unassigned."""
    conversation = _changeable(session, conversation_id)
    previous = conversation.assignee
    if previous != agent:
        conversation.assignee = agent
        conversation.last_activity_at = utcnow()
        session.flush()
        record_event(
            session,
            ConversationAssigned(
                conversation_id=conversation.id,
                profile_id=conversation.profile_id,
                assignee=agent,
                previous=previous,
            ),
        )
    return conversation


def add_note(
    session: Session, *, actor: StaffActor, conversation_id: UUID, body: str
) -> ConversationMessage:
    """An internal note for other agents: in the transcript, never sent, not on the
    timeline. Allowed on closed conversations too (a wrap-up)."""
    conversation = get(session, conversation_id=conversation_id, lock=True)
    now = utcnow()
    return _add_message(
        session,
        conversation,
        actor=actor,
        channel=None,
        direction=None,
        body=body,
        subject=None,
        external_id=None,
        author=actor.name,
        sent_at=now,
        now=now,
        kind=MessageKind.NOTE,
    )


def reply(
    session: Session,
    *,
    actor: StaffActor,
    conversation_id: UUID,
    body: str,
    channel: MessageChannel | None,
) -> ConversationMessage:
    """The agent's answer, recorded on ``channel`` (by default the channel the customer
    wrote on last). ``conversation.reply_added`` is what a delivery adapter will send."""
    conversation = _changeable(session, conversation_id)
    chosen = channel.value if channel else _last_inbound_channel(session, conversation)
    now = utcnow()
    stored = _add_message(
        session,
        conversation,
        actor=actor,
        channel=chosen,
        direction=Direction.OUTBOUND,
        body=body,
        subject=None,
        external_id=None,
        author=actor.name,
        sent_at=now,
        now=now,
    )
    record_event(
        session,
        ReplyAdded(
            conversation_id=conversation.id,
            message_id=stored.id,
            profile_id=conversation.profile_id,
            channel=chosen,
            author=actor.name,
        ),
    )
    _on_timeline(
        session,
        actor,
        conversation,
        stored,
        profile_id=conversation.profile_id,
        anchor_id=conversation.anchor_id,
    )
    return stored


def _last_inbound_channel(session: Session, conversation: Conversation) -> str:
    for message in reversed(transcript(session, conversation)):
        if message.direction == Direction.INBOUND and message.channel is not None:
            return message.channel
    return conversation.last_channel


def record_csat(
    session: Session, *, conversation_id: UUID, score: int, comment: str | None
) -> Conversation:
    """The customer's satisfaction rating (1-5), once, after the conversation closed."""
    conversation = get(session, conversation_id=conversation_id, lock=True)
    if conversation.status != ConversationStatus.CLOSED:
        raise Conflict(
            ConversationErrorCode.CONVERSATION_NOT_CLOSED,
            f"Conversation {conversation.id} is {conversation.status}; rate it once it is closed.",
        )
    if conversation.csat_score is not None:
        raise Conflict(
            ConversationErrorCode.CSAT_ALREADY_RECORDED,
            f"Conversation {conversation.id} was rated already.",
        )
    conversation.csat_score = score
    conversation.csat_comment = comment
    conversation.csat_at = utcnow()
    session.flush()
    record_event(
        session,
        CsatRecorded(
            conversation_id=conversation.id,
            profile_id=conversation.profile_id,
            score=score,
            channels=list(conversation.channels),
            assignee=conversation.assignee,
        ),
    )
    return conversation
