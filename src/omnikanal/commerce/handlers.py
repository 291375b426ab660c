"""Commerce reacts to its own orders: a person's order habits are refreshed whenever they
order (S9). (Carts need no reaction to merges: reads show the person's carts as one, and
the next change merges them for good.)"""

from uuid import UUID

from sqlalchemy.orm import Session

from omnikanal.commerce import habits
from omnikanal.outbox.registry import HandlerRegistry, PublishedEvent


def refresh_habits(session: Session, event: PublishedEvent) -> None:
    if event.payload.get("profile_id"):
        habits.refresh(session, profile_id=UUID(event.payload["profile_id"]))


def register(registry: HandlerRegistry) -> None:
    registry.subscribe("order.placed", "commerce.refresh_habits", refresh_habits)
