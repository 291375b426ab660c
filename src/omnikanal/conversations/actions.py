"""What agents do with a conversation: assign it to a person, move it between open, pending and
closed (final), write internal notes, reply, and take the customer's rating."""

from uuid import UUID

from sqlalchemy.orm import Session

from omnikanal.auth import staff as staff_service
from omnikanal.auth.service import StaffActor
from omnikanal.conversations import replies
from omnikanal.conversations.models import (
    Conversation,
    ConversationMessage,
    ConversationStatus,
    DeliveryStatus,
    Direction,
    MessageKind,
)
from omnikanal.conversations.service import (
    ConversationAssigned,
    ConversationErrorCode,
    CsatRecorded,
    MessageChannel,
    ReplyAdded,
    add_message,
    change_status,
    get,
    on_timeline,
    transcript,
)
from omnikanal.errors import Conflict, RuleViolation
from omnikanal.kit.ids import new_id
from omnikanal.kit.time import utcnow
from omnikanal.uow import record_event


def _changeable(session: Session, conversation_id: UUID) -> Conversation:
    conversation = get(session, conversation_id=conversation_id, lock=True)
    if conversation.status == ConversationStatus.CLOSED:
        raise Conflict(
            ConversationErrorCode.CONVERSATION_CLOSED,
            f"Conversation {conversation.id} is closed; the customer's next message starts "
            "a new one.",
        )
    return conversation


def set_status(session: Session, *, conversation_id: UUID, status: str) -> Conversation:
    """open ⇄ pending, either → closed. Closed is final."""
    conversation = _changeable(session, conversation_id)
    if conversation.status != status:
        change_status(session, conversation, status, utcnow())
    return conversation


def assign(session: Session, *, conversation_id: UUID, agent: str | None) -> Conversation:
    """Give the conversation to a person: ``agent`` is the id or email of an active staff
    account that handles conversations (agent or admin); None leaves it unassigned. The
    account's id is stored, so a renamed person keeps their conversations."""
    conversation = _changeable(session, conversation_id)
    agent = str(_handler(session, agent).id) if agent is not None else None
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


def _handler(session: Session, reference: str) -> staff_service.StaffMember:
    found = staff_service.conversation_handler(session, reference=reference)
    if found is None:
        message = (
            "Name an active staff account (its id or email) of an agent or admin; "
            f"{reference.strip()[:100]!r} is none."
        )
        raise RuleViolation(
            ConversationErrorCode.UNKNOWN_ASSIGNEE,
            message,
            errors=[{"field": "body.agent", "message": message}],
        )
    return found


def add_note(
    session: Session, *, actor: StaffActor, conversation_id: UUID, body: str
) -> ConversationMessage:
    """An internal note for other agents: in the transcript, never sent, not on the
    timeline. Allowed on closed conversations too (a wrap-up)."""
    conversation = get(session, conversation_id=conversation_id, lock=True)
    now = utcnow()
    return add_message(
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
    wrote on last) as queued: ``conversation.reply_added`` has it delivered there."""
    conversation = _changeable(session, conversation_id)
    chosen = channel.value if channel else _last_inbound_channel(session, conversation)
    now = utcnow()
    reply_id = new_id()
    email = chosen == MessageChannel.EMAIL
    stored = add_message(
        session,
        conversation,
        actor=actor,
        channel=chosen,
        direction=Direction.OUTBOUND,
        body=body,
        subject=replies.subject_of(conversation) if email else None,
        # An email's own Message-ID: the customer's answer names it in In-Reply-To.
        external_id=replies.email_message_id(session, reply_id) if email else None,
        author=actor.name,
        sent_at=now,
        now=now,
        message_id=reply_id,
    )
    stored.delivery_status = DeliveryStatus.QUEUED
    session.flush()
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
    on_timeline(
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
