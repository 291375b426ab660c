from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, and_, delete, func, select, update
from sqlalchemy.orm import Session

from omnikanal.kit.leases import claim_due
from omnikanal.outbox.models import (
    DeliveryStatus,
    OutboxDelivery,
    OutboxEvent,
    WebhookEndpoint,
)


def active_webhooks(session: Session) -> list[WebhookEndpoint]:
    return list(session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.active)))


def list_webhooks(session: Session) -> Sequence[WebhookEndpoint]:
    return session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.created_at)).all()


def get_webhook(session: Session, endpoint_id: UUID) -> WebhookEndpoint | None:
    return session.get(WebhookEndpoint, endpoint_id)


def get_event(session: Session, event_id: UUID) -> OutboxEvent | None:
    return session.get(OutboxEvent, event_id)


def claim_due_deliveries(
    session: Session,
    *,
    limit: int,
    lease: timedelta,
    kinds: Sequence[str] | None = None,
    event_ids: Sequence[UUID] | None = None,
) -> list[UUID]:
    filters = []
    if kinds is not None:
        filters.append(OutboxDelivery.kind.in_(kinds))
    if event_ids is not None:
        filters.append(OutboxDelivery.event_id.in_(event_ids))
    return claim_due(
        session,
        OutboxDelivery,
        due_column=OutboxDelivery.next_attempt_at,
        pending_status=DeliveryStatus.PENDING,
        limit=limit,
        lease=lease,
        filters=tuple(filters),
    )


def deliveries_with_events(
    session: Session, ids: Sequence[UUID]
) -> list[tuple[OutboxDelivery, OutboxEvent]]:
    rows = session.execute(
        select(OutboxDelivery, OutboxEvent)
        .join(OutboxEvent, OutboxEvent.id == OutboxDelivery.event_id)
        .where(OutboxDelivery.id.in_(ids))
        .order_by(OutboxEvent.id)
    ).all()
    return [(d, e) for d, e in rows]


def list_deliveries(
    session: Session, *, status: str | None, after: UUID | None, limit: int
) -> Sequence[OutboxDelivery]:
    query = select(OutboxDelivery).order_by(OutboxDelivery.id).limit(limit)
    if status:
        query = query.where(OutboxDelivery.status == status)
    if after:
        query = query.where(OutboxDelivery.id > after)
    return session.scalars(query).all()


def get_delivery(session: Session, delivery_id: UUID) -> OutboxDelivery | None:
    return session.get(OutboxDelivery, delivery_id)


def mark(session: Session, delivery_id: UUID, **values: Any) -> None:
    session.execute(update(OutboxDelivery).where(OutboxDelivery.id == delivery_id).values(**values))


def mark_delivered(session: Session, delivery_ids: Sequence[UUID], *, at: datetime) -> None:
    """These deliveries done, each with one more attempt: one statement for all."""
    if delivery_ids:
        session.execute(
            update(OutboxDelivery)
            .where(OutboxDelivery.id.in_(delivery_ids))
            .values(
                status=DeliveryStatus.DELIVERED,
                attempts=OutboxDelivery.attempts + 1,
                delivered_at=at,
                locked_until=None,
                last_error=None,
            )
        )


# -- events that name a person (privacy.py) --


def events_where(session: Session, condition: ColumnElement[bool]) -> Sequence[OutboxEvent]:
    return session.scalars(select(OutboxEvent).where(condition)).all()


def events_with_pending_deliveries(session: Session, event_ids: Sequence[UUID]) -> set[UUID]:
    return set(
        session.scalars(
            select(OutboxDelivery.event_id).where(
                OutboxDelivery.event_id.in_(event_ids),
                OutboxDelivery.status == DeliveryStatus.PENDING,
            )
        )
    )


def delete_events(session: Session, event_ids: Sequence[UUID]) -> int:
    if not event_ids:
        return 0
    session.execute(delete(OutboxDelivery).where(OutboxDelivery.event_id.in_(event_ids)))
    result = session.execute(delete(OutboxEvent).where(OutboxEvent.id.in_(event_ids)))
    return int(getattr(result, "rowcount", 0) or 0)


def delivery_counts(session: Session, *, now: datetime) -> dict[str, Any]:
    pending = OutboxDelivery.status == DeliveryStatus.PENDING
    due = and_(pending, OutboxDelivery.next_attempt_at <= now)
    count, oldest = session.execute(
        select(func.count(OutboxDelivery.id), func.min(OutboxDelivery.next_attempt_at)).where(due)
    ).one()
    return {
        "pending": int(session.scalar(select(func.count(OutboxDelivery.id)).where(pending)) or 0),
        "due_now": int(count or 0),
        "oldest_due_at": oldest,
        "failed": int(
            session.scalar(
                select(func.count(OutboxDelivery.id)).where(
                    OutboxDelivery.status == DeliveryStatus.FAILED
                )
            )
            or 0
        ),
    }
