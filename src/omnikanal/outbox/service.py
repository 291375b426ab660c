"""Writing events and their deliveries; the relay reads what is written here."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

import orjson
from sqlalchemy.orm import Session

from omnikanal.config import Settings
from omnikanal.errors import NotFound
from omnikanal.kit.ids import new_id
from omnikanal.kit.time import utcnow
from omnikanal.outbox import repository, signing
from omnikanal.outbox.models import (
    DeliveryKind,
    DeliveryStatus,
    OutboxDelivery,
    OutboxEvent,
    WebhookEndpoint,
)
from omnikanal.outbox.registry import HandlerRegistry

RECORDED_EVENTS = "omnikanal.recorded_event_ids"
WEBHOOKS_CACHE = "omnikanal.active_webhooks"


def _jsonable(payload: dict[str, Any]) -> dict[str, Any]:
    # UUIDs, datetimes and dataclasses become their JSON forms once, here.
    result: dict[str, Any] = orjson.loads(orjson.dumps(payload))
    return result


def enqueue(session: Session, *, event_type: str, payload: dict[str, Any]) -> OutboxEvent:
    """Add the event and one delivery per target, in the caller's transaction."""
    # The endpoints first: the query would otherwise flush this event alone, and a
    # request's events are written with one INSERT when nothing flushes in between.
    if WEBHOOKS_CACHE not in session.info:
        session.info[WEBHOOKS_CACHE] = repository.active_webhooks(session)
    event = OutboxEvent(id=new_id(), type=event_type, payload=_jsonable(payload))
    session.add(event)
    registry: HandlerRegistry | None = session.info.get("registry")
    settings: Settings | None = session.info.get("settings")
    targets: list[tuple[str, str]] = []
    if registry is not None:
        targets += [(DeliveryKind.HANDLER, name) for name in registry.names_for(event_type)]
    targets += [
        (DeliveryKind.WEBHOOK, str(endpoint.id))
        for endpoint in session.info[WEBHOOKS_CACHE]
        if not endpoint.event_types or event_type in endpoint.event_types
    ]
    if settings is not None and settings.nats_url:
        targets.append((DeliveryKind.NATS, settings.nats_stream))
    session.add_all(
        OutboxDelivery(event_id=event.id, kind=kind, target=target) for kind, target in targets
    )
    session.info.setdefault(RECORDED_EVENTS, []).append(event.id)
    return event


class OutboxErrorCode(StrEnum):
    WEBHOOK_NOT_FOUND = "webhook_not_found"
    DELIVERY_NOT_FOUND = "delivery_not_found"


def create_webhook(
    session: Session, *, url: str, description: str, event_types: list[str]
) -> WebhookEndpoint:
    endpoint = WebhookEndpoint(
        url=url, description=description, event_types=event_types, secret=signing.new_secret()
    )
    session.add(endpoint)
    session.flush()
    return endpoint


def disable_webhook(session: Session, *, endpoint_id: UUID) -> WebhookEndpoint:
    endpoint = repository.get_webhook(session, endpoint_id)
    if endpoint is None:
        raise NotFound(OutboxErrorCode.WEBHOOK_NOT_FOUND, f"No webhook endpoint {endpoint_id}.")
    endpoint.active = False
    return endpoint


def retry_delivery(session: Session, *, delivery_id: UUID) -> OutboxDelivery:
    """Send a failed delivery again, from the next worker pass."""
    delivery = repository.get_delivery(session, delivery_id)
    if delivery is None:
        raise NotFound(OutboxErrorCode.DELIVERY_NOT_FOUND, f"No delivery {delivery_id}.")
    if delivery.status != DeliveryStatus.DELIVERED:
        delivery.status = DeliveryStatus.PENDING
        delivery.next_attempt_at = utcnow()
        delivery.locked_until = None
    return delivery


# -- what the admins' console pages read --


def webhooks(session: Session) -> Sequence[WebhookEndpoint]:
    return repository.list_webhooks(session)


def deliveries(
    session: Session, *, status: str | None, after: UUID | None, limit: int
) -> Sequence[OutboxDelivery]:
    """Deliveries in id order (oldest first), those after ``after``."""
    return repository.list_deliveries(session, status=status, after=after, limit=limit)


@dataclass(frozen=True)
class Backlog:
    """Deliveries waiting to be made (due now or retrying later), and failed ones."""

    pending: int
    due_now: int
    oldest_due_at: datetime | None
    failed: int


def backlog(session: Session, *, now: datetime) -> Backlog:
    counts = repository.delivery_counts(session, now=now)
    return Backlog(**counts)
