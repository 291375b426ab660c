"""Commerce reacts to the identity graph and to its own orders: when two profiles become
one person, so do their carts (S2: the laptop's cart and the phone's cart); and a person's
order habits are refreshed when they order or merge (S9)."""

from uuid import UUID

from sqlalchemy.orm import Session

from omnikanal.commerce import carts, habits
from omnikanal.outbox.registry import HandlerRegistry, PublishedEvent


def merge_carts(session: Session, event: PublishedEvent) -> None:
    carts.consolidate(session, profile_id=UUID(event.payload["profile_id"]))


def refresh_habits(session: Session, event: PublishedEvent) -> None:
    if event.payload.get("profile_id"):
        habits.refresh(session, profile_id=UUID(event.payload["profile_id"]))


def register(registry: HandlerRegistry) -> None:
    registry.subscribe("profile.merged", "commerce.merge_carts", merge_carts)
    registry.subscribe("profile.merged", "commerce.refresh_habits", refresh_habits)
    registry.subscribe("order.placed", "commerce.refresh_habits_on_order", refresh_habits)
