"""Commerce reacts to its own orders: a person's order habits are refreshed whenever they
order (S9); pickups nobody came for are called off once the pickup window has passed.
Carts follow the identity graph: when profiles merge their carts are joined, each keeping
the lines it brought, and an unmerge gives each side its own cart back."""

from datetime import timedelta
from uuid import UUID

from sqlalchemy.orm import Session

from omnikanal.commerce import carts, habits, orders
from omnikanal.config import Settings
from omnikanal.outbox.registry import HandlerRegistry, PublishedEvent


def refresh_habits(session: Session, event: PublishedEvent) -> None:
    if event.payload.get("profile_id"):
        habits.refresh(session, profile_id=UUID(event.payload["profile_id"]))


def join_carts(session: Session, event: PublishedEvent) -> None:
    carts.consolidate(session, profile_id=UUID(event.payload["profile_id"]))


def split_carts(session: Session, event: PublishedEvent) -> None:
    data = event.payload
    carts.split_on_unmerge(
        session,
        profile_id=UUID(data["profile_id"]),
        restored_profile_id=UUID(data["restored_profile_id"]),
        returned=[UUID(i) for i in data.get("returned_identifier_ids") or []],
    )


def cancel_uncollected(session: Session) -> None:
    settings: Settings = session.info.get("settings") or Settings()
    orders.cancel_uncollected(session, older_than=timedelta(days=settings.pickup_days))


def register(registry: HandlerRegistry) -> None:
    registry.subscribe("order.placed", "commerce.refresh_habits", refresh_habits)
    registry.subscribe("profile.merged", "commerce.join_carts", join_carts)
    registry.subscribe("profile.unmerged", "commerce.split_carts", split_carts)
    registry.every("commerce.cancel_uncollected", timedelta(hours=1), cancel_uncollected)
