"""The conversations domain's part: every conversation with the person and its transcript.
Erasure deletes them whole: bodies, subjects, previews, satisfaction comments and who took
part (the person's profile and identifiers)."""

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from omnikanal.conversations import repository
from omnikanal.conversations.models import Conversation, ConversationMessage
from omnikanal.kit.personal_data import DomainPart, Person, PrivacyRegistry, as_document


def export(session: Session, person: Person) -> Mapping[str, Any]:
    conversations = repository.conversations_of(session, sorted(person.profile_ids))
    messages = repository.messages_of(session, [c.id for c in conversations])
    return {
        "conversations": [
            {
                **as_document(c),
                "transcript": [
                    as_document(m, leave_out=("recorded_by",))
                    for m in messages
                    if m.conversation_id == c.id
                ],
            }
            for c in conversations
        ]
    }


def erase(session: Session, person: Person) -> int:
    conversations = repository.conversations_of(session, sorted(person.profile_ids))
    return repository.delete_conversations(session, [c.id for c in conversations])


def register(registry: PrivacyRegistry) -> None:
    registry.register(
        DomainPart(
            domain="conversations",
            tables=frozenset({Conversation.__tablename__, ConversationMessage.__tablename__}),
            files={
                "conversations": "Your conversations with us on chat, phone, email and social "
                "channels, each with its whole transcript.",
            },
            export=export,
            erase=erase,
        )
    )
