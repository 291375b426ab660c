from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query

from omnikanal.auth.dependencies import AdminKey
from omnikanal.http import DbSession
from omnikanal.kit.pagination import PageParams, decode_id_cursor, encode_cursor, page_params
from omnikanal.outbox import repository, service
from omnikanal.outbox.schemas import (
    DeliveryPage,
    DeliveryRead,
    WebhookCreate,
    WebhookCreated,
    WebhookRead,
)

router = APIRouter(prefix="/v1", tags=["webhooks and deliveries"])


@router.post("/webhooks", status_code=201, response_model=WebhookCreated)
def create_webhook(body: WebhookCreate, session: DbSession, _: AdminKey) -> WebhookCreated:
    endpoint = service.create_webhook(
        session, url=str(body.url), description=body.description, event_types=body.event_types
    )
    return WebhookCreated.model_validate(endpoint)


@router.get("/webhooks", response_model=list[WebhookRead])
def list_webhooks(session: DbSession, _: AdminKey) -> list[WebhookRead]:
    return [WebhookRead.model_validate(w) for w in repository.list_webhooks(session)]


@router.post("/webhooks/{endpoint_id}/disable", response_model=WebhookRead)
def disable_webhook(endpoint_id: UUID, session: DbSession, _: AdminKey) -> WebhookRead:
    return WebhookRead.model_validate(service.disable_webhook(session, endpoint_id=endpoint_id))


@router.get("/outbox/deliveries", response_model=DeliveryPage)
def list_deliveries(
    session: DbSession,
    _: AdminKey,
    page: Annotated[PageParams, Depends(page_params)],
    status: Annotated[str | None, Query(pattern="^(pending|delivered|failed)$")] = None,
) -> DeliveryPage:
    after = decode_id_cursor(page.cursor) if page.cursor else None
    rows = repository.list_deliveries(session, status=status, after=after, limit=page.limit + 1)
    items = [DeliveryRead.model_validate(d) for d in rows[: page.limit]]
    more = len(rows) > page.limit
    return DeliveryPage(items=items, next_cursor=encode_cursor(str(items[-1].id)) if more else None)


@router.post("/outbox/deliveries/{delivery_id}/retry", response_model=DeliveryRead)
def retry_delivery(delivery_id: UUID, session: DbSession, _: AdminKey) -> DeliveryRead:
    return DeliveryRead.model_validate(service.retry_delivery(session, delivery_id=delivery_id))
