"""The admin's pages: sources and keys (a new key shown once; revoking after a
confirmation), products with prices and promotions and the price audit, locations,
webhooks with failed deliveries to retry, and the hub's health."""

from datetime import timedelta
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from omnikanal.auth import service as auth_service
from omnikanal.auth.models import Channel, Role
from omnikanal.catalog import service as catalog_service
from omnikanal.commerce import audit as commerce_audit
from omnikanal.console import health
from omnikanal.console.dependencies import CheckedForm, require_console_roles
from omnikanal.console.forms import (
    FieldRefused,
    Refusal,
    refusal,
    shown_once,
    values_of,
    with_notice,
)
from omnikanal.console.pages import render
from omnikanal.console.paging import PAGE_SIZE, page_in_memory, paged
from omnikanal.console.service import SignedIn
from omnikanal.errors import OmnikanalError
from omnikanal.events import service as events_service
from omnikanal.http import DbSession
from omnikanal.inventory import service as inventory_service
from omnikanal.kit.pagination import (
    MAX_CURSOR_LENGTH,
    decode_cursor,
    decode_id_cursor,
    encode_cursor,
)
from omnikanal.kit.time import utcnow
from omnikanal.outbox import service as outbox_service
from omnikanal.timers import service as timers_service

router = APIRouter(prefix="/admin")

Admin = Annotated[SignedIn, Depends(require_console_roles())]
Cursor = Annotated[str | None, Query(max_length=MAX_CURSOR_LENGTH)]

KEY_ROLES = [r.value for r in Role]
SOURCE_CHANNELS = [c.value for c in Channel if c is not Channel.BACKEND]


# -- sources and keys --


def _keys_page(
    request: Request,
    session: Session,
    user: SignedIn,
    *,
    cursor: str | None = None,
    source_cursor: str | None = None,
    refused: Refusal | None = None,
    created: tuple[str, str] | None = None,
) -> Response:
    keys, next_key = page_in_memory(
        auth_service.secret_keys(session), key=lambda k: k.name.lower() + str(k.id), cursor=cursor
    )
    all_keys = len(auth_service.secret_keys(session))
    sources, next_source = page_in_memory(
        auth_service.sources(session),
        key=lambda s: s.name.lower() + str(s.id),
        cursor=source_cursor,
    )
    stores = {s.code: s.name for s in inventory_service.locations(session, kind="store")}
    return render(
        request,
        "admin/keys.html",
        title="Sources and keys",
        user=user,
        keys=paged(keys, all_keys, next_key, path="/console/admin/keys", cursor=cursor),
        sources=paged(
            sources,
            len(auth_service.sources(session)),
            next_source,
            path="/console/admin/keys",
            cursor=source_cursor,
        ),
        roles=KEY_ROLES,
        channels=SOURCE_CHANNELS,
        stores=stores,
        refused=refused,
        created=created,
        done=request.query_params.get("done"),
        status_code=422 if refused else 200,
    )


@router.get("/keys")
def keys(
    request: Request,
    session: DbSession,
    user: Admin,
    cursor: Cursor = None,
    source_cursor: Cursor = None,
) -> Response:
    return _keys_page(request, session, user, cursor=cursor, source_cursor=source_cursor)


ALREADY = "That form was sent already: it was done once, and a new key is shown only once."


def _store(session: Session, code: str, field: str) -> str | None:
    if not code:
        return None
    if code not in {s.code for s in inventory_service.locations(session, kind="store")}:
        raise FieldRefused(field, "Choose one of the stores.")
    return code


@router.post("/keys")
def create_key(request: Request, session: DbSession, user: Admin, form: CheckedForm) -> Response:
    typed = values_of(form, "name", "role", "channel", "location")
    try:
        name = typed["name"]
        if not name:
            raise FieldRefused("name", "Give the key a name: who or what uses it.")
        if typed["role"] not in KEY_ROLES:
            raise FieldRefused("role", "Choose one of the roles.")
        role = Role(typed["role"])
        channel_text = typed["channel"]
        if channel_text and channel_text not in SOURCE_CHANNELS:
            raise FieldRefused("channel", "Choose one of the channels.")
        if role is Role.CHANNEL and not channel_text:
            raise FieldRefused(
                "channel", "A channel key names the channel its back end speaks for."
            )
        location = _store(session, typed["location"], "location")
        if role is Role.STORE and location is None:
            raise FieldRefused("location", "A store key belongs to one store: choose it.")
        key, secret = auth_service.create_secret_key(
            session,
            role=role,
            name=name,
            location=location,
            channel=Channel(channel_text) if channel_text else None,
        )
    except OmnikanalError as exc:
        return _keys_page(request, session, user, refused=refusal("key", form, exc, values=typed))
    # Shown on this answer only: only the key's hash is kept, and a repeat of the form
    # is told it was done (the answer is not kept for it).
    page = _keys_page(request, session, user, created=(f"Secret key {key.name}", secret))
    return shown_once(page, with_notice("/console/admin/keys", ALREADY))


@router.post("/sources")
def create_source(request: Request, session: DbSession, user: Admin, form: CheckedForm) -> Response:
    typed = values_of(form, "source_name", "source_channel", "source_location")
    try:
        name = typed["source_name"]
        if not name:
            raise FieldRefused("source_name", "Give the source a name, e.g. Web shop.")
        if typed["source_channel"] not in SOURCE_CHANNELS:
            raise FieldRefused("source_channel", "Choose the channel it sends from.")
        location = _store(session, typed["source_location"], "source_location")
        source, write_key = auth_service.create_source(
            session, name=name, channel=Channel(typed["source_channel"]), location=location
        )
    except OmnikanalError as exc:
        return _keys_page(
            request, session, user, refused=refusal("source", form, exc, values=typed)
        )
    page = _keys_page(request, session, user, created=(f"Write key of {source.name}", write_key))
    return shown_once(page, with_notice("/console/admin/keys", ALREADY))


@router.get("/keys/{key_id}/revoke")
def confirm_revoke(key_id: UUID, request: Request, session: DbSession, user: Admin) -> Response:
    key = auth_service.get_secret_key(session, key_id=key_id)
    return render(
        request,
        "admin/revoke.html",
        title=f"Revoke {key.name}?",
        user=user,
        what=f"the secret key {key.name}",
        prefix=key.key_prefix,
        effect="Every call made with it is refused from now on (401). This cannot be undone: "
        "the back end that uses it needs a new key.",
        action=f"/console/admin/keys/{key.id}/revoke",
        button="Revoke key",
    )


@router.post("/keys/{key_id}/revoke")
def revoke(key_id: UUID, session: DbSession, user: Admin, form: CheckedForm) -> Response:
    where = "/console/admin/keys"
    key = auth_service.revoke_secret_key(session, key_id=key_id)
    return RedirectResponse(with_notice(where, f"Key {key.name} is revoked."), 303)


@router.get("/sources/{source_id}/disable")
def confirm_disable_source(
    source_id: UUID, request: Request, session: DbSession, user: Admin
) -> Response:
    source = auth_service.get_source(session, source_id=source_id)
    return render(
        request,
        "admin/revoke.html",
        title=f"Disable {source.name}?",
        user=user,
        what=f"the source {source.name}",
        prefix=source.key_prefix,
        effect="Its write key stops working within seconds: events it sends are refused. "
        "This cannot be undone: the source needs a new write key.",
        action=f"/console/admin/sources/{source.id}/disable",
        button="Disable source",
    )


@router.post("/sources/{source_id}/disable")
def disable_source(source_id: UUID, session: DbSession, user: Admin, form: CheckedForm) -> Response:
    where = "/console/admin/keys"
    source = auth_service.disable_source(session, source_id=source_id)
    return RedirectResponse(with_notice(where, f"Source {source.name} is disabled."), 303)


# -- products, prices, promotions, price audit --


@router.get("/products")
def products(request: Request, session: DbSession, user: Admin, cursor: Cursor = None) -> Response:
    after = decode_cursor(cursor) if cursor else None
    found = catalog_service.products_page(session, after=after, limit=PAGE_SIZE + 1)
    shown = list(found[:PAGE_SIZE])
    next_cursor = encode_cursor(shown[-1].sku) if len(found) > PAGE_SIZE else None
    now = utcnow()
    return render(
        request,
        "admin/products.html",
        title="Products and prices",
        user=user,
        listing=paged(
            shown,
            catalog_service.count_products(session),
            next_cursor,
            path="/console/admin/products",
            cursor=cursor,
        ),
        prices={p.sku: catalog_service.current_prices(session, sku=p.sku) for p in shown},
        promotions=catalog_service.promotions(session),
        now=now,
        audit=commerce_audit.price_audit(
            session, since=now - timedelta(days=30), until=now, channel=None, limit=20
        ),
    )


# -- locations --


@router.get("/locations")
def locations(request: Request, session: DbSession, user: Admin, cursor: Cursor = None) -> Response:
    every = inventory_service.locations(session, active=None)
    shown, next_cursor = page_in_memory(every, key=lambda loc: loc.code, cursor=cursor)
    return render(
        request,
        "admin/locations.html",
        title="Locations",
        user=user,
        listing=paged(
            shown, len(every), next_cursor, path="/console/admin/locations", cursor=cursor
        ),
    )


# -- webhooks and deliveries --


@router.get("/webhooks")
def webhooks(request: Request, session: DbSession, user: Admin, cursor: Cursor = None) -> Response:
    after = decode_id_cursor(cursor) if cursor else None
    failed = outbox_service.deliveries(session, status="failed", after=after, limit=PAGE_SIZE + 1)
    shown = list(failed[:PAGE_SIZE])
    next_cursor = encode_cursor(str(shown[-1].id)) if len(failed) > PAGE_SIZE else None
    endpoints = outbox_service.webhooks(session)
    backlog = outbox_service.backlog(session, now=utcnow())
    return render(
        request,
        "admin/webhooks.html",
        title="Webhooks",
        user=user,
        endpoints=endpoints,
        names={str(w.id): w.url for w in endpoints},
        listing=paged(
            shown, backlog.failed, next_cursor, path="/console/admin/webhooks", cursor=cursor
        ),
        done=request.query_params.get("done"),
    )


@router.post("/deliveries/{delivery_id}/retry")
def retry(delivery_id: UUID, session: DbSession, user: Admin, form: CheckedForm) -> Response:
    where = "/console/admin/webhooks"
    outbox_service.retry_delivery(session, delivery_id=delivery_id)
    done = "The delivery is tried again on the worker's next pass."
    return RedirectResponse(with_notice(where, done), 303)


# -- the hub's health --


@router.get("/health")
def hub_health(request: Request, session: DbSession, user: Admin) -> Response:
    now = utcnow()
    return render(
        request,
        "admin/health.html",
        title="Hub health",
        user=user,
        now=now,
        backlog=outbox_service.backlog(session, now=now),
        timers=timers_service.due_work(session, now=now),
        workers=health.workers(session, now=now),
        alive_within=int(health.ALIVE_WITHIN.total_seconds()),
        lag=events_service.resolution_lag(session),
        bound=request.app.state.settings.max_resolution_lag_seconds,
    )
