"""Conversations that follow the customer (S3): one open conversation per person across
chat, email, phone and social, and what agents do with it.

A message from any channel is placed with its person by the identity graph (customers
service) and joins the person's open (or pending) conversation, keeping its own channel;
a closed conversation stays closed and the next message starts a new one. When two
profiles turn out to be one person, their open conversations become one.

This file holds what the use cases share: error codes, the domain events, the person's
conversations, adding a message, and reading. The use cases live beside it:
``messages.py`` (messages from the channels), ``actions.py`` (what agents do) and
``context.py`` (what an agent continues from: profile, orders, cart, loyalty).
"""

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import ClassVar
from uuid import UUID

from sqlalchemy.orm import Session

from omnikanal.auth import staff as staff_service
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
from omnikanal.errors import NotFound
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
    UNKNOWN_ASSIGNEE = "unknown_assignee"
    UNREADABLE_EMAIL = "unreadable_email"


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
    """An agent's answer, recorded here as queued; marketing's adapters deliver it on its
    channel and write back sent or failed (``replies.py``)."""

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


def excerpt(body: str, limit: int = EXCERPT_CHARS) -> str:
    text = " ".join(body.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# -- the person --


def family(session: Session, profile_id: UUID) -> tuple[UUID, list[UUID]]:
    """The live profile and every profile merged into it."""
    live = customers_service.live_profile(session, profile_id).id
    return live, [live, *customers_service.merged_descendants(session, live)]


def consolidate(session: Session, *, profile_id: UUID) -> Conversation | None:
    """The person's one active conversation: when profiles merged and each had one, the
    most recently active shows every message and the others point at it. Each message
    stays in the conversation it came in, so an unmerge can split them again (``split``).
    Safe to run again (it finds one and does nothing)."""
    live, profiles = family(session, profile_id)
    active = repository.active_of(session, profiles, lock=True)
    if len(active) <= 1:
        return active[0] if active else None
    survivor, others = active[0], active[1:]
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


# -- shared by the channels' messages and the agents' actions --


def add_message(
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
    message_id: UUID | None = None,
) -> ConversationMessage:
    stored = ConversationMessage(
        id=message_id or new_id(),
        conversation_id=conversation.id,
        kind=kind,
        channel=channel,
        direction=direction,
        subject=subject,
        body=body,
        external_id=external_id,
        author=author,
        recorded_by=actor.credential_id,
        sent_at=sent_at,
        received_at=now,
    )
    session.add(stored)
    conversation.last_activity_at = now
    # Retention starts over: this conversation has a message to keep again.
    conversation.messages_removed_at = None
    if kind == MessageKind.MESSAGE and channel is not None:
        conversation.message_count += 1
        conversation.preview = excerpt(body, PREVIEW_CHARS)
        conversation.last_channel = channel
        conversation.subject = conversation.subject or subject
        if channel not in conversation.channels:
            conversation.channels = [*conversation.channels, channel]
    session.flush()
    return stored


def on_timeline(
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
        credential_id=actor.credential_id,
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
        message_id=_timeline_id(message.id),
        at=message.sent_at,
    )


def _timeline_id(message_id: UUID) -> str:
    return f"conversation-message-{message_id}"


def change_status(session: Session, conversation: Conversation, status: str, now: datetime) -> None:
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
    """Every message on every channel, and the agents' notes, oldest first, including those
    of the conversations that joined this one."""
    return repository.messages(session, joined_tree(session, conversation.id))


def joined_tree(session: Session, conversation_id: UUID) -> list[UUID]:
    """The conversation and every conversation merged into it, directly or not."""
    found = [conversation_id]
    frontier = [conversation_id]
    while frontier:
        frontier = [c for c in repository.merged_into_any(session, frontier) if c not in found]
        found += frontier
    return found


# -- undoing a merge --


def split(
    session: Session, *, profile_id: UUID, restored_profile_id: UUID, returned: Sequence[UUID]
) -> None:
    """An unmerge gave ``restored_profile_id`` back its identifiers (``returned``): the
    conversations they opened come back to it with their messages, and what the other side
    joined into them goes back to the other side. Both are recounted; a conversation
    brought back is open (whether it was pending is not kept)."""
    ours = set(returned)
    for conversation in repository.anchored_in(session, list(ours), lock=True):
        if conversation.merged_into is not None:
            parent = repository.get(session, conversation.merged_into, lock=True)
            if parent is None or parent.anchor_id in ours:
                continue  # joined one of the restored side's own: they stay joined
            _bring_back(session, conversation, owner=restored_profile_id, survivor=profile_id)
            _recount(session, parent)
            continue
        if conversation.profile_id == profile_id:
            conversation.profile_id = restored_profile_id
        for joined in repository.joined_into(session, conversation.id, lock=True):
            if joined.anchor_id not in ours:
                _bring_back(session, joined, owner=profile_id, survivor=restored_profile_id)
        _recount(session, conversation)
    session.flush()


def _bring_back(
    session: Session, conversation: Conversation, *, owner: UUID, survivor: UUID
) -> None:
    conversation.status = ConversationStatus.OPEN
    conversation.merged_into = None
    if conversation.profile_id == survivor:
        conversation.profile_id = owner
    _recount(session, conversation)


def _recount(session: Session, conversation: Conversation) -> None:
    """Message count, channels, preview and last activity from the messages themselves."""
    shown = [
        (m.channel, m)
        for m in transcript(session, conversation)
        if m.kind == MessageKind.MESSAGE and m.channel is not None
    ]
    channels: list[str] = []
    for channel, _ in shown:
        if channel not in channels:
            channels.append(channel)
    conversation.message_count = len(shown)
    conversation.channels = channels
    if shown:
        conversation.last_channel, last = shown[-1]
        conversation.preview = excerpt(last.body, PREVIEW_CHARS)
        conversation.last_activity_at = max(m.received_at for _, m in shown)


def _assignee_reference(session: Session, assignee: str | None) -> str | None:
    if assignee is None:
        return None
    person = staff_service.find_member(session, reference=assignee)
    # Assigned before staff accounts: the name as it was typed.
    return str(person.id) if person is not None else assignee


def inbox(
    session: Session,
    *,
    status: str | None,
    assignee: str | None,
    profile_id: UUID | None,
    before: tuple[datetime, UUID] | None,
    limit: int,
    undelivered: bool = False,
) -> Sequence[Conversation]:
    """Conversations with the newest activity first (merged-away ones left out).
    ``assignee`` is a staff account's id or email; ``undelivered``: only those with a
    reply that could not be delivered."""
    profiles = family(session, profile_id)[1] if profile_id is not None else None
    return repository.inbox(
        session,
        status=status,
        assignee=_assignee_reference(session, assignee),
        profile_ids=profiles,
        before=before,
        limit=limit,
        undelivered=undelivered,
    )


def inbox_count(
    session: Session,
    *,
    status: str | None,
    assignee: str | None,
    profile_id: UUID | None,
    undelivered: bool = False,
) -> int:
    """How many conversations ``inbox`` pages through with the same filters."""
    profiles = family(session, profile_id)[1] if profile_id is not None else None
    return repository.inbox_count(
        session,
        status=status,
        assignee=_assignee_reference(session, assignee),
        profile_ids=profiles,
        undelivered=undelivered,
    )


# -- retention --


def purge_stale_messages(session: Session, *, before: datetime, limit: int) -> int:
    """Retention: delete up to ``limit`` messages of conversations whose last activity was
    before ``before``; a conversation left without messages keeps its row (status,
    channels, count, times) with its preview, subject and comment blanked. How many rows
    changed."""
    stale = repository.stale_messages(session, before=before, limit=limit)
    # Their timeline entries (``on_timeline``) quote them: the quotes go with them.
    events_service.forget_activity_properties(
        session,
        activities=[(recorded_by, _timeline_id(id_)) for id_, recorded_by in stale],
        properties=("subject", "excerpt"),
    )
    ids = [id_ for id_, _ in stale]
    repository.delete_messages(session, ids)
    emptied = repository.emptied_stale_ids(session, before=before, limit=limit - len(ids))
    repository.mark_messages_removed(session, emptied, at=utcnow())
    return len(ids) + len(emptied)


def assignee_names(session: Session, conversations: Sequence[Conversation]) -> dict[str, str]:
    """The names of the people the conversations are assigned to, by stored assignee."""
    ids: set[UUID] = set()
    for conversation in conversations:
        try:
            ids.add(UUID(conversation.assignee or ""))
        except ValueError:
            continue
    return {str(i): m.name for i, m in staff_service.members(session, ids).items()}
