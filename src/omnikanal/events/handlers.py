"""The event store follows the identity graph: when profiles merge outside ingestion (a
till's loyalty card, a chat message, a card issued on joining), the merged-away profile's
events move to the person they now belong to, as ingestion moves them in its own batch."""

from uuid import UUID

from sqlalchemy.orm import Session

from omnikanal.customers import service as customers_service
from omnikanal.events import repository
from omnikanal.outbox.registry import HandlerRegistry, PublishedEvent


def follow_merge(session: Session, event: PublishedEvent) -> None:
    if event.payload.get("message_id"):
        return  # merged by an ingested message: ingestion moved the events in its batch
    merged = UUID(event.payload["merged_profile_id"])
    # The survivor may itself have merged since: the events go to the live profile.
    survivor = customers_service.live_profile(session, UUID(event.payload["profile_id"])).id
    repository.repoint(session, [(merged, survivor)])


def register(registry: HandlerRegistry) -> None:
    registry.subscribe("profile.merged", "events.follow_merge", follow_merge)
