"""Commerce reacts to its own orders: a person's order habits are refreshed whenever they
order (S9); pickups nobody came for are called off once the pickup window has passed.
(Carts need no reaction to merges: reads show the person's carts as one, and
the next change merges them for good.)"""

from datetime import timedelta
from uuid import UUID

from sqlalchemy.orm import Session

from omnikanal.commerce import habits, orders
from omnikanal.config import Settings
from omnikanal.outbox.registry import HandlerRegistry, PublishedEvent


def refresh_habits(session: Session, event: PublishedEvent) -> None:
    if event.payload.get("profile_id"):
        habits.refresh(session, profile_id=UUID(event.payload["profile_id"]))


def cancel_uncollected(session: Session) -> None:
    settings: Settings = session.info.get("settings") or Settings()
    orders.cancel_uncollected(session, older_than=timedelta(days=settings.pickup_days))


def register(registry: HandlerRegistry) -> None:
    registry.subscribe("order.placed", "commerce.refresh_habits", refresh_habits)
    registry.every("commerce.cancel_uncollected", timedelta(hours=1), cancel_uncollected)
