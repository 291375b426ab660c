"""Conversations react to the identity graph: when two profiles become one person, their
open conversations become one (one open conversation per customer, across channels); when
an agent undoes that merge, they are split again."""

from uuid import UUID

from sqlalchemy.orm import Session

from omnikanal.conversations import service
from omnikanal.outbox.registry import HandlerRegistry, PublishedEvent


def merge_conversations(session: Session, event: PublishedEvent) -> None:
    service.consolidate(session, profile_id=UUID(event.payload["profile_id"]))


def split_conversations(session: Session, event: PublishedEvent) -> None:
    data = event.payload
    service.split(
        session,
        profile_id=UUID(data["profile_id"]),
        restored_profile_id=UUID(data["restored_profile_id"]),
        returned=[UUID(i) for i in data.get("returned_identifier_ids") or []],
    )


def register(registry: HandlerRegistry) -> None:
    registry.subscribe("profile.merged", "conversations.merge_conversations", merge_conversations)
    registry.subscribe("profile.unmerged", "conversations.split_conversations", split_conversations)
