"""Conversations react to the identity graph: when two profiles become one person, their
open conversations become one (one open conversation per customer, across channels)."""

from uuid import UUID

from sqlalchemy.orm import Session

from omnikanal.conversations import service
from omnikanal.outbox.registry import HandlerRegistry, PublishedEvent


def merge_conversations(session: Session, event: PublishedEvent) -> None:
    service.consolidate(session, profile_id=UUID(event.payload["profile_id"]))


def register(registry: HandlerRegistry) -> None:
    registry.subscribe("profile.merged", "conversations.merge_conversations", merge_conversations)
