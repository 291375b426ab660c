"""Commerce reacts to the identity graph: when two profiles become one person, so do
their carts (S2: the laptop's cart and the phone's cart)."""

from uuid import UUID

from sqlalchemy.orm import Session

from omnikanal.commerce import carts
from omnikanal.outbox.registry import HandlerRegistry, PublishedEvent


def merge_carts(session: Session, event: PublishedEvent) -> None:
    carts.consolidate(session, profile_id=UUID(event.payload["profile_id"]))


def register(registry: HandlerRegistry) -> None:
    registry.subscribe("profile.merged", "commerce.merge_carts", merge_carts)
