"""Every query of the conversations domain."""

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import ColumnElement, and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from omnikanal.conversations.models import (
    Conversation,
    ConversationMessage,
    ConversationStatus,
)


def get(session: Session, conversation_id: UUID, *, lock: bool = False) -> Conversation | None:
    query = (
        select(Conversation)
        .where(Conversation.id == conversation_id)
        .execution_options(populate_existing=True)
    )
    if lock:
        query = query.with_for_update()
    return session.scalar(query)


def active_of(
    session: Session, profile_ids: Sequence[UUID], *, lock: bool = False
) -> Sequence[Conversation]:
    """The open and pending conversations of these profiles, latest activity first."""
    query = (
        select(Conversation)
        .where(
            Conversation.profile_id.in_(profile_ids),
            Conversation.status.in_(ConversationStatus.ACTIVE),
        )
        .order_by(Conversation.last_activity_at.desc(), Conversation.id.desc())
        .execution_options(populate_existing=True)
    )
    if lock:
        query = query.with_for_update()
    return session.scalars(query).all()


def of_profiles(
    session: Session, profile_ids: Sequence[UUID], *, limit: int
) -> Sequence[Conversation]:
    """These profiles' conversations (not merged-away ones), latest activity first."""
    query = (
        select(Conversation)
        .where(
            Conversation.profile_id.in_(profile_ids),
            Conversation.status != ConversationStatus.MERGED,
        )
        .order_by(Conversation.last_activity_at.desc(), Conversation.id.desc())
        .limit(limit)
    )
    return session.scalars(query).all()


def _inbox_filters(
    *,
    status: str | None,
    assignee: str | None,
    profile_ids: Sequence[UUID] | None,
    undelivered: bool,
) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = [Conversation.status != ConversationStatus.MERGED]
    if status is not None:
        found.append(Conversation.status == status)
    if assignee is not None:
        found.append(Conversation.assignee == assignee)
    if profile_ids is not None:
        found.append(Conversation.profile_id.in_(profile_ids))
    if undelivered:
        found.append(Conversation.undelivered_replies > 0)
    return found


def inbox(
    session: Session,
    *,
    status: str | None,
    assignee: str | None,
    profile_ids: Sequence[UUID] | None,
    before: tuple[datetime, UUID] | None,
    limit: int,
    undelivered: bool = False,
) -> Sequence[Conversation]:
    query = select(Conversation).where(
        *_inbox_filters(
            status=status, assignee=assignee, profile_ids=profile_ids, undelivered=undelivered
        )
    )
    if before is not None:
        moment, conversation_id = before
        query = query.where(
            or_(
                Conversation.last_activity_at < moment,
                and_(Conversation.last_activity_at == moment, Conversation.id < conversation_id),
            )
        )
    query = query.order_by(Conversation.last_activity_at.desc(), Conversation.id.desc())
    return session.scalars(query.limit(limit)).all()


def inbox_count(
    session: Session,
    *,
    status: str | None,
    assignee: str | None,
    profile_ids: Sequence[UUID] | None,
    undelivered: bool = False,
) -> int:
    query = select(func.count()).select_from(Conversation)
    query = query.where(
        *_inbox_filters(
            status=status, assignee=assignee, profile_ids=profile_ids, undelivered=undelivered
        )
    )
    return int(session.scalar(query) or 0)


def get_message(session: Session, message_id: UUID) -> ConversationMessage | None:
    return session.get(ConversationMessage, message_id, populate_existing=True)


def message_by_external_id(
    session: Session, *, channel: str, external_id: str
) -> ConversationMessage | None:
    return session.scalar(
        select(ConversationMessage).where(
            ConversationMessage.channel == channel,
            ConversationMessage.external_id == external_id,
        )
    )


def messages(session: Session, conversation_ids: Sequence[UUID]) -> Sequence[ConversationMessage]:
    """The messages and notes of these conversations, oldest first."""
    query = (
        select(ConversationMessage)
        .where(ConversationMessage.conversation_id.in_(conversation_ids))
        .order_by(ConversationMessage.sent_at, ConversationMessage.id)
    )
    return session.scalars(query).all()


def merged_into_any(session: Session, conversation_ids: Sequence[UUID]) -> list[UUID]:
    """The conversations that joined any of these."""
    query = select(Conversation.id).where(Conversation.merged_into.in_(conversation_ids))
    return list(session.scalars(query))


def joined_into(
    session: Session, conversation_id: UUID, *, lock: bool = False
) -> Sequence[Conversation]:
    query = (
        select(Conversation)
        .where(Conversation.merged_into == conversation_id)
        .execution_options(populate_existing=True)
    )
    if lock:
        query = query.with_for_update()
    return session.scalars(query).all()


def anchored_in(
    session: Session, anchor_ids: Sequence[UUID], *, lock: bool = False
) -> Sequence[Conversation]:
    """The conversations opened by one of these identifiers, oldest first."""
    query = (
        select(Conversation)
        .where(Conversation.anchor_id.in_(anchor_ids))
        .order_by(Conversation.opened_at, Conversation.id)
        .execution_options(populate_existing=True)
    )
    if lock:
        query = query.with_for_update()
    return session.scalars(query).all()


def stale_messages(
    session: Session, *, before: datetime, limit: int
) -> Sequence[tuple[UUID, UUID]]:
    """(id, recorded by) of messages of conversations whose last activity was before
    ``before`` and whose messages retention has not removed yet."""
    query = (
        select(ConversationMessage.id, ConversationMessage.recorded_by)
        .join(Conversation, Conversation.id == ConversationMessage.conversation_id)
        .where(Conversation.messages_removed_at.is_(None), Conversation.last_activity_at < before)
        .limit(limit)
    )
    return [(row.id, row.recorded_by) for row in session.execute(query)]


def delete_messages(session: Session, ids: Sequence[UUID]) -> None:
    if ids:
        session.execute(delete(ConversationMessage).where(ConversationMessage.id.in_(ids)))


def emptied_stale_ids(session: Session, *, before: datetime, limit: int) -> Sequence[UUID]:
    """Conversations past ``before`` not yet marked, whose messages are all gone."""
    left = select(ConversationMessage.id).where(
        ConversationMessage.conversation_id == Conversation.id
    )
    query = (
        select(Conversation.id)
        .where(
            Conversation.messages_removed_at.is_(None),
            Conversation.last_activity_at < before,
            ~left.exists(),
        )
        .limit(limit)
    )
    return session.scalars(query).all()


def mark_messages_removed(session: Session, ids: Sequence[UUID], *, at: datetime) -> None:
    """The preview, subject and satisfaction comment are the customer's words too."""
    if ids:
        session.execute(
            update(Conversation)
            .where(Conversation.id.in_(ids))
            .values(preview="", subject=None, csat_comment=None, messages_removed_at=at)
        )


# -- a person's part, for export and erasure (privacy.py) --


def conversations_of(session: Session, profile_ids: Sequence[UUID]) -> Sequence[Conversation]:
    return session.scalars(
        select(Conversation)
        .where(Conversation.profile_id.in_(profile_ids))
        .order_by(Conversation.opened_at)
    ).all()


def messages_of(
    session: Session, conversation_ids: Sequence[UUID]
) -> Sequence[ConversationMessage]:
    return session.scalars(
        select(ConversationMessage)
        .where(ConversationMessage.conversation_id.in_(conversation_ids))
        .order_by(ConversationMessage.sent_at, ConversationMessage.id)
    ).all()


def delete_conversations(session: Session, conversation_ids: Sequence[UUID]) -> int:
    if not conversation_ids:
        return 0
    messages = session.execute(
        delete(ConversationMessage).where(ConversationMessage.conversation_id.in_(conversation_ids))
    )
    conversations = session.execute(
        delete(Conversation).where(Conversation.id.in_(conversation_ids))
    )
    return int(messages.rowcount or 0) + int(conversations.rowcount or 0)  # type: ignore[attr-defined]
