"""Finding a customer by anything they gave us, and their 360 page (S3, S17)."""

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from omnikanal.auth.models import Role
from omnikanal.commerce import carts, orders
from omnikanal.console.access import latest_accesses
from omnikanal.console.dependencies import CheckedForm, require_console_roles
from omnikanal.console.pages import human, money, render, when
from omnikanal.console.service import SignedIn
from omnikanal.conversations import service as conversations_service
from omnikanal.conversations.models import Conversation
from omnikanal.customers import service as customers_service
from omnikanal.customers.models import MergeLogEntry
from omnikanal.errors import BadRequest, CommonErrorCode, OmnikanalError
from omnikanal.events import service as events_service
from omnikanal.http import DbSession
from omnikanal.inventory import service as inventory_service
from omnikanal.kit.pagination import decode_time_cursor, encode_time_cursor
from omnikanal.loyalty import service as loyalty_service
from omnikanal.loyalty.models import LoyaltyLedgerEntry, LoyaltyMember
from omnikanal.loyalty.service import TierProgress
from omnikanal.marketing import service as marketing_service
from omnikanal.privacy import access, erasure
from omnikanal.privacy import service as privacy_service
from omnikanal.privacy.access import MAX_REASON_LENGTH, AccessAction
from omnikanal.privacy.dependencies import Registry
from omnikanal.privacy.router import zip_response
from omnikanal.recommendations import service as recommendations_service

router = APIRouter(prefix="/customers")

Reader = Annotated[SignedIn, Depends(require_console_roles(Role.AGENT, Role.STORE))]
Editor = Annotated[SignedIn, Depends(require_console_roles(Role.AGENT))]
# Exporting a person's data and erasing them are for admins.
Admin = Annotated[SignedIn, Depends(require_console_roles())]

TIMELINE_PAGE = 20
CONVERSATIONS_SHOWN = 20
# Past this many events the timeline says "more than".
TIMELINE_COUNT_CAP = 10_000
RECENT_ORDERS = 20
# Recommendations shown on the 360 page.
RECOMMENDED = 6
LEDGER_ENTRIES = 20
# The identifier types one search box tries, in this order.
SEARCHED_TYPES = ("email", "phone", "loyalty_card", "user_id", "anonymous_id")
# The properties worth a line on the timeline (Segment's and the hub's own events).
TIMELINE_PROPERTIES = ("sku", "name", "order_number", "number", "total", "excerpt", "store")


@dataclass(frozen=True)
class Match:
    profile: customers_service.ProfileView
    found_by: str


def find(session: Session, query: str) -> list[Match]:
    """Every profile the text names as an email, phone, card, user id or order number."""
    text = query.strip()
    if not text:
        return []
    found: dict[UUID, list[str]] = {}
    for type_ in SEARCHED_TYPES:
        try:
            profile_id = customers_service.find_profile_id(session, type_=type_, raw_value=text)
        except OmnikanalError:  # not a valid value of this type: try the next
            continue
        if profile_id is not None:
            found.setdefault(profile_id, []).append(type_.replace("_", " "))
    try:
        order = orders.by_number(session, number=text.upper())
    except OmnikanalError:
        order = None
    if order is not None and order.profile_id is not None:
        live = customers_service.live_profile(session, order.profile_id).id
        found.setdefault(live, []).append(f"order {order.number}")
    return [
        Match(customers_service.get_profile(session, profile_id=p), ", ".join(how))
        for p, how in found.items()
    ]


def _reason(value: str | None) -> str | None:
    return (value or "").strip()[:MAX_REASON_LENGTH] or None


def _with_reason(path: str, reason: str | None) -> str:
    """A customer's page, carrying the reason the search gave on to where it is logged."""
    return f"{path}?{urlencode({'reason': reason})}" if reason else path


@router.get("")
def search(
    request: Request, session: DbSession, user: Reader, q: str = "", reason: str | None = None
) -> Response:
    matches = find(session, q) if q.strip() else []
    why = _reason(reason)
    receipt = _anonymous_receipt(session, q) if q.strip() and not matches else None
    if len(matches) == 1:
        path = f"/console/customers/{matches[0].profile.profile.id}"
        return RedirectResponse(_with_reason(path, why), 303)
    # Several people's identifiers are shown: each is a read of that person.
    for match in matches:
        access.record(
            session,
            actor=user.actor,
            action=AccessAction.PROFILE,
            profile_id=match.profile.profile.id,
            reason=why,
        )
    return render(
        request,
        "customers.html",
        title=f"Customers matching {q.strip()}" if q.strip() else "Find a customer",
        user=user,
        q=q,
        reason=why or "",
        reason_query=urlencode({"reason": why}) if why else "",
        matches=matches,
        receipt=receipt,
        stores=_store_names(session) if receipt else {},
    )


def _anonymous_receipt(session: Session, text: str) -> orders.OrderView | None:
    """A receipt (an order) of nobody known, found by its number: what a return needs."""
    try:
        order = orders.by_number(session, number=text.strip().upper())
    except OmnikanalError:
        return None
    return orders.views(session, [order])[0] if order.profile_id is None else None


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    channel: str
    where: str
    what: str
    detail: str
    source: str | None


@dataclass(frozen=True)
class Loyalty:
    member: LoyaltyMember
    balance: int
    tier: TierProgress
    ledger: list[LoyaltyLedgerEntry]


def _store_names(session: Session) -> dict[str, str]:
    return {loc.code: loc.name or loc.code for loc in inventory_service.locations(session)}


def _entry(event: events_service.TimelineEvent, stores: dict[str, str]) -> TimelineEntry:
    stored = event.event
    message = stored.message
    properties = message.get("properties") or {}
    if stored.type == "track":
        what = stored.name or "event"
    elif stored.type in ("page", "screen"):
        what = f"Viewed {stored.type} {stored.name or ''}".strip()
    elif stored.type == "identify":
        what = "Identified"
    else:
        what = stored.type
    if stored.type == "identify":
        traits = sorted(str(key) for key in (message.get("traits") or {}))
        detail = "traits: " + ", ".join(traits) if traits else ""
    else:
        currency = str(properties.get("currency") or "SEK")
        detail = "; ".join(
            f"{key.replace('_', ' ')}: "
            + (money(value, currency) if key == "total" and isinstance(value, int) else str(value))
            for key, value in properties.items()
            if key in TIMELINE_PROPERTIES
        )
    location = stored.location
    where = stores.get(location, location) if location else ""
    return TimelineEntry(
        at=stored.timestamp,
        channel=stored.channel,
        where=where,
        what=what,
        detail=detail,
        source=event.source_name,
    )


def _cursor(before: str | None) -> tuple[datetime, UUID] | None:
    if not before or "_" not in before:
        return None
    at, _, event_id = before.partition("_")
    try:
        return datetime.fromisoformat(at), UUID(event_id)
    except ValueError:
        return None


def _loyalty(session: Session, live: UUID) -> Loyalty | None:
    """The person's membership, wherever among their merged profiles it sits."""
    found = loyalty_service.account(session, profile_id=live, before=None, limit=LEDGER_ENTRIES)
    if found.member is None:
        return None
    return Loyalty(
        member=found.member, balance=found.balance, tier=found.tier, ledger=list(found.ledger)
    )


def _shown(value: object, named: str | None, zone: str) -> str:
    """A computed trait as words: store names, lists joined, times to the minute."""
    if named is not None:
        return named
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == "T":
        try:
            return when(datetime.fromisoformat(value), zone)
        except ValueError:
            return value
    return human(value)


@router.get("/{profile_id}")
def customer_360(
    profile_id: UUID,
    request: Request,
    session: DbSession,
    user: Reader,
    before: str | None = None,
    reason: str | None = None,
    orders_before: str | None = None,
) -> Response:
    view = customers_service.get_profile(session, profile_id=profile_id)
    live = view.profile.id
    if live != profile_id:  # a merged-away id: show the person it joined
        return RedirectResponse(_with_reason(f"/console/customers/{live}", _reason(reason)), 303)
    access.record(
        session,
        actor=user.actor,
        action=AccessAction.PROFILE_360,
        profile_id=live,
        reason=_reason(reason),
    )
    stores = _store_names(session)
    _, events = events_service.timeline(
        session, profile_id=live, before=_cursor(before), limit=TIMELINE_PAGE + 1
    )
    shown = events[:TIMELINE_PAGE]
    next_page = None
    if len(events) > TIMELINE_PAGE:
        last = shown[-1].event
        next_page = "?" + urlencode({"before": f"{last.timestamp.isoformat()}_{last.id}"})
    _, recent = orders.of_person(
        session,
        profile_id=live,
        before=decode_time_cursor(orders_before) if orders_before else None,
        limit=RECENT_ORDERS + 1,
    )
    next_orders = None
    if len(recent) > RECENT_ORDERS:
        recent = recent[:RECENT_ORDERS]
        cursor = encode_time_cursor(recent[-1].placed_at, recent[-1].id)
        next_orders = "?" + urlencode({"orders_before": cursor}) + "#orders"
    state = carts.person_cart(session, profile_id=live)
    conversations: list[Conversation] = list(
        conversations_service.inbox(
            session,
            status=None,
            assignee=None,
            profile_id=live,
            before=None,
            limit=CONVERSATIONS_SHOWN,
        )
    )
    merges: list[MergeLogEntry] = list(customers_service.merge_log(session, profile_id=live))
    computed = {
        key: _shown(
            value,
            stores.get(value, value) if key == "favourite_store" else None,
            request.app.state.settings.timezone,
        )
        for key, value in view.profile.computed_traits.items()
    }
    name = " ".join(
        str(view.profile.traits[k])
        for k in ("first_name", "last_name")
        if view.profile.traits.get(k)
    )
    accesses = latest_accesses(session, user=user, profile_id=live)
    recommended = recommendations_service.recommend(
        session, profile_id=live, limit=RECOMMENDED, context="email"
    )
    return render(
        request,
        "customer.html",
        title=f"Customer {name or str(live)[:8]}",
        user=user,
        name=name,
        view=view,
        computed=computed,
        stores=stores,
        timeline=[_entry(e, stores) for e in shown],
        timeline_total=events_service.timeline_count(
            session, profile_id=live, cap=TIMELINE_COUNT_CAP
        ),
        timeline_cap=TIMELINE_COUNT_CAP,
        next_page=next_page,
        first_page=before is not None,
        orders=orders.views(session, recent),
        next_orders=next_orders,
        orders_from=orders_before is not None,
        cart=carts.priced(session, state, channel=state.cart.channel) if state else None,
        recommended=recommended,
        stock_name=stores.get(recommended.stock_location or "", recommended.stock_location),
        loyalty=_loyalty(session, live),
        consents=[c for c in marketing_service.consents(session, profile_id=live)[1] if c.explicit],
        conversations=conversations,
        conversations_total=conversations_service.inbox_count(
            session, status=None, assignee=None, profile_id=live
        ),
        merges=merges,
        can_unmerge=user.actor.role in (Role.AGENT, Role.ADMIN),
        can_erase=user.actor.role == Role.ADMIN,
        done=request.query_params.get("done"),
        # Who read this person (its own partial): admins only.
        accesses=accesses[0] if accesses else None,
        more_accesses=accesses[1] if accesses else None,
    )


@router.post("/{profile_id}/unmerge")
def unmerge(profile_id: UUID, session: DbSession, user: Editor, form: CheckedForm) -> Response:
    merge_id = form.get("merge_id")
    try:
        chosen = UUID(merge_id) if isinstance(merge_id, str) and merge_id else None
    except ValueError as exc:
        raise BadRequest(CommonErrorCode.BAD_REQUEST, "That is not a merge id.") from exc
    result = events_service.unmerge(
        session,
        profile_id=profile_id,
        merge_id=chosen,
        actor=f"staff account {user.actor.credential_id} ({user.actor.name}, console)"[:200],
    )
    access.record(
        session, actor=user.actor, action=AccessAction.UNMERGE, profile_id=result.profile_id
    )
    query = urlencode(
        {"done": f"Unmerged: profile {result.restored_profile_id} is separate again."}
    )
    return RedirectResponse(f"/console/customers/{result.profile_id}?{query}", 303)


# -- a person's data: export and erasure (S16), for admins --


@router.get("/{profile_id}/export")
def export(profile_id: UUID, session: DbSession, user: Admin, registry: Registry) -> Response:
    """The person's ZIP, as ``GET /v1/profiles/{id}/export`` gives it; recorded in the
    access log (written by the edge before the archive leaves)."""
    found = privacy_service.export(session, profile_id=profile_id, registry=registry)
    privacy_service.record_export(
        session, actor=user.actor, profile_id=found.profile_id, reason="console export"
    )
    return zip_response(found)


@router.get("/{profile_id}/erase")
def confirm_erasure(
    profile_id: UUID, request: Request, session: DbSession, user: Admin
) -> Response:
    """The confirmation step: who exactly is about to be erased."""
    view = customers_service.get_profile(session, profile_id=profile_id)
    name = " ".join(
        str(view.profile.traits[k])
        for k in ("first_name", "last_name")
        if view.profile.traits.get(k)
    )
    return render(
        request,
        "erase.html",
        title=f"Erase {name or str(view.profile.id)[:8]}?",
        user=user,
        name=name,
        view=view,
    )


@router.post("/{profile_id}/erase")
def erase(
    profile_id: UUID, session: DbSession, user: Admin, form: CheckedForm, registry: Registry
) -> Response:
    started = erasure.request(session, profile_id=profile_id, actor=user.actor, registry=registry)
    return RedirectResponse(f"/console/customers/erasures/{started.id}", 303)


@router.get("/erasures/{request_id}")
def erasure_status(request_id: UUID, request: Request, session: DbSession, user: Admin) -> Response:
    found = erasure.get(session, request_id=request_id)
    return render(request, "erasure.html", title="Erasure", user=user, erasure=found)
