"""The abandoned-cart reminder and the cart-restore link (S2).

Every ``cart.updated`` with items (re)schedules a durable timer ``marketing.abandoned_cart``
keyed by the person, due ``OMNIKANAL_ABANDONED_CART_DELAY`` seconds later: each change moves
it. An ``order.placed`` for the person (any channel, tills included) takes the SKUs bought
off the timer and cancels it when none are left. When it fires, the person's cart still has
items and they opted in to marketing email, one reminder is recorded (unique key per firing
and cart, so two workers or a redelivered event send one) and delivered.

The reminder's link carries a signed, expiring token; opening it on another device
(``GET /v1/carts/restore/{token}?anonymous_id=``) attaches that device to the person and
answers with the same cart; the click is on the timeline (``Cart Restored``) and in the log.
A device that already belongs to someone else (a signed-in friend the mail was forwarded
to) is shown the link's cart but never joined to its person.
"""

import dataclasses
from datetime import timedelta
from typing import Any
from uuid import UUID

from sqlalchemy.orm import Session

from omnikanal.auth.service import StaffActor
from omnikanal.commerce import carts
from omnikanal.commerce.carts import CartState
from omnikanal.config import Settings
from omnikanal.customers import service as customers_service
from omnikanal.customers.identity import IdentifierKey
from omnikanal.errors import BadRequest, NotFound
from omnikanal.events import service as events_service
from omnikanal.experiments import service as experiments_service
from omnikanal.kit.ids import new_id
from omnikanal.kit.time import utcnow
from omnikanal.marketing import messages, tokens
from omnikanal.marketing.models import ConsentChannel, Message, MessageStatus, Purpose
from omnikanal.marketing.service import MarketingErrorCode, allowed, record_consent
from omnikanal.marketing.templates import money
from omnikanal.outbox.registry import PublishedEvent
from omnikanal.recommendations import service as recommendations_service
from omnikanal.timers import service as timers_service
from omnikanal.timers.models import Timer, TimerStatus

ABANDONED_CART = "marketing.abandoned_cart"
# What an experiment names to test the reminder (its variants' subject and offer).
ABANDONED_CART_TARGET = "abandoned_cart"
RESTORE = "cart_restore"
UNSUBSCRIBE = "unsubscribe"
OPENED = "opened"
CLICKED = "clicked"


def _base_url(settings: Settings) -> str:
    return (settings.public_url or f"http://{settings.host}:{settings.port}").rstrip("/")


def restore_url(settings: Settings, token: str) -> str:
    if settings.cart_restore_url:
        return settings.cart_restore_url.replace("{token}", token)
    return f"{_base_url(settings)}/v1/carts/restore/{token}"


def open_url(settings: Settings, *, message_id: UUID) -> str:
    """A one-pixel image in HTML email: opened, where the mail reader loads images."""
    token = tokens.sign(
        settings,
        purpose=OPENED,
        data={"m": str(message_id)},
        expires_at=utcnow() + timedelta(days=365),
    )
    return f"{_base_url(settings)}/v1/marketing/open/{token}"


def click_url(settings: Settings, *, message_id: UUID, target: str) -> str:
    """A message's link, through the hub: the click is counted, then the reader goes on to
    ``target``. Signed, so the hub never redirects anywhere a message did not say."""
    token = tokens.sign(
        settings,
        purpose=CLICKED,
        data={"m": str(message_id), "u": target},
        expires_at=utcnow() + timedelta(days=365),
    )
    return f"{_base_url(settings)}/v1/marketing/click/{token}"


def clicked(session: Session, *, token: str) -> str:
    """The link was followed: the message is clicked (a later order is its conversion);
    where the reader goes on to. A bad link is ``400 invalid_link``."""
    now = utcnow()
    try:
        data = tokens.verify(tokens.settings_of(session), token, purpose=CLICKED, now=now)
    except tokens.InvalidToken as exc:
        raise _invalid(str(exc)) from exc
    messages.mark_clicked(session, message_id=UUID(data["m"]), at=now)
    return str(data["u"])


def unsubscribe_url(settings: Settings, *, profile_id: UUID, channel: str) -> str:
    token = tokens.sign(
        settings,
        purpose=UNSUBSCRIBE,
        data={"pr": str(profile_id), "pu": Purpose.MARKETING, "ch": channel},
        expires_at=utcnow() + timedelta(days=3650),
    )
    return f"{_base_url(settings)}/v1/unsubscribe/{token}"


# -- scheduling and cancelling --


def cart_updated(session: Session, event: PublishedEvent) -> None:
    data = event.payload
    if not data.get("profile_id"):
        return
    live = customers_service.live_profile(session, UUID(data["profile_id"])).id
    if not data.get("skus"):
        timers_service.cancel(session, kind=ABANDONED_CART, key=str(live))
        return
    delay = timedelta(seconds=tokens.settings_of(session).abandoned_cart_delay)
    timers_service.schedule(
        session,
        kind=ABANDONED_CART,
        key=str(live),
        due_at=event.occurred_at + delay,
        payload={
            "cart_id": data["cart_id"],
            "profile_id": str(live),
            "skus": list(data["skus"]),
            "channel": data.get("channel"),
            "trigger_id": str(new_id()),
        },
    )


def order_placed(session: Session, event: PublishedEvent) -> None:
    """The person bought: what they bought is no longer worth a reminder."""
    data = event.payload
    if not data.get("profile_id"):
        return
    live = customers_service.live_profile(session, UUID(data["profile_id"])).id
    bought = set(data.get("skus") or [])
    for person in [live, *customers_service.merged_descendants(session, live)]:
        timer = timers_service.get(session, kind=ABANDONED_CART, key=str(person))
        if timer is None or timer.status != TimerStatus.SCHEDULED:
            continue
        left = [sku for sku in timer.payload.get("skus", []) if sku not in bought]
        if not left:
            timers_service.cancel(session, kind=ABANDONED_CART, key=str(person))
        else:
            timer.payload = {**timer.payload, "skus": left}
            session.flush()


# -- the reminder --


def _email_of(session: Session, profile_id: UUID) -> str | None:
    view = customers_service.get_profile(session, profile_id=profile_id)
    emails = [i.value for i in view.identifiers if i.type == "email"]
    return emails[-1] if emails else None


def abandoned_cart_fired(session: Session, timer: Timer) -> None:
    data: dict[str, Any] = timer.payload
    remind(
        session,
        profile_id=UUID(data["profile_id"]),
        skus=list(data.get("skus") or []),
        trigger_id=str(data.get("trigger_id", timer.id)),
    )


def remind(
    session: Session, *, profile_id: UUID, skus: list[str], trigger_id: str
) -> Message | None:
    """The reminder of the person's cart lines among ``skus``, recorded once per trigger."""
    live = customers_service.live_profile(session, profile_id)
    state = carts.person_cart(session, profile_id=live.id)
    if state is None:
        return None
    wanted = set(skus)
    lines = [line for line in state.lines if line.sku in wanted]
    if not lines:
        return None  # bought or removed since
    settings = tokens.settings_of(session)
    key = f"abandoned_cart:{state.cart.id}:{trigger_id}"
    email = _email_of(session, live.id)
    channel = ConsentChannel.EMAIL
    base: dict[str, Any] = {
        "key": key,
        "kind": "abandoned_cart",
        "profile_id": live.id,
        "channel": channel,
        "recipient": email,
        "template": "abandoned_cart",
        "cart_id": state.cart.id,
    }
    reason = None
    if not allowed(session, profile_id=live.id, purpose=Purpose.MARKETING, channel=channel):
        reason = "no marketing email consent"
    elif email is None:
        reason = "no email address"
    if reason is not None:
        return messages.queue(
            session, **base, context={}, status=MessageStatus.SUPPRESSED, reason=reason
        )[0]
    # A running experiment on the reminder decides its subject and offer (and records
    # that the person was shown this variant).
    variant = experiments_service.message_variant(
        session, target=ABANDONED_CART_TARGET, profile_id=live.id, channel=channel
    )
    message_id = new_id()
    token = tokens.sign(
        settings,
        purpose=RESTORE,
        data={"pr": str(live.id), "c": str(state.cart.id), "m": str(message_id)},
        expires_at=utcnow() + timedelta(days=settings.cart_restore_link_days),
    )
    shown = carts.priced(
        session, dataclasses.replace(state, lines=lines), channel=state.cart.channel
    )
    currency = state.cart.currency
    context = {
        "first_name": (live.traits or {}).get("first_name"),
        "lines": [
            {
                "sku": line.sku,
                "name": line.name,
                "image_url": line.image_url,
                "quantity": line.quantity,
                "unit_price": money(line.quote.unit_price, currency),
                "line_total": money(line.line_total, currency),
            }
            for line in shown.lines
        ],
        "total": money(shown.total, currency),
        "restore_url": restore_url(settings, token),
        "unsubscribe_url": unsubscribe_url(settings, profile_id=live.id, channel=channel),
        "open_url": open_url(settings, message_id=message_id),
        "subject": variant.get("subject") if variant else None,
        "offer": variant.get("offer") if variant else None,
        "suggestions": suggestions(session, profile_id=live.id, context="cart"),
    }
    if variant:
        context["experiment"] = {"key": variant["experiment"], "variant": variant["key"]}
    return messages.queue(session, **base, context=context, message_id=message_id)[0]


# "You may also like" in a message: this many, with the reason each is suggested.
SUGGESTIONS = 3


def suggestions(
    session: Session, *, profile_id: UUID, context: recommendations_service.Context
) -> list[dict[str, Any]]:
    """The person's recommendations for a message (none without consent for
    personalisation: best sellers are not shown as personal suggestions)."""
    found = recommendations_service.recommend(
        session, profile_id=profile_id, limit=SUGGESTIONS, context=context
    )
    if not found.personalised:
        return []
    return [
        {
            "sku": item.sku,
            "name": item.name,
            "image_url": item.image_url,
            "reason": item.reason_text,
        }
        for item in found.items
    ]


# -- the links --


def _invalid(reason: str) -> BadRequest:
    return BadRequest(MarketingErrorCode.INVALID_LINK, f"This link does not work: {reason}.")


def restore(
    session: Session, *, token: str, anonymous_id: str | None, actor: StaffActor
) -> CartState:
    settings = tokens.settings_of(session)
    now = utcnow()
    try:
        data = tokens.verify(settings, token, purpose=RESTORE, now=now)
    except tokens.InvalidToken as exc:
        raise _invalid(str(exc)) from exc
    live = customers_service.live_profile(session, UUID(data["pr"])).id
    view = customers_service.get_profile(session, profile_id=live)
    channel = actor.channel.value if actor.channel else "web"
    anchor = customers_service.strongest_identifier(session, view.identifiers)
    if anonymous_id and _may_follow(session, anonymous_id=anonymous_id, person=live):
        known = [i for i in view.identifiers if i.type != "anonymous_id"] or list(view.identifiers)
        if not known:
            raise NotFound(MarketingErrorCode.INVALID_LINK, "The person of this link is gone.")
        keys = [
            IdentifierKey("anonymous_id", anonymous_id),
            IdentifierKey(known[0].type, known[0].value),
        ]
        placement = customers_service.place(session, identifiers=keys, channel=channel, at=now)
        live, anchor = placement.profile_id, placement.anchor_id
    state = carts.find_cart(session, cart_id=UUID(data["c"]))
    message_id = UUID(data["m"]) if data.get("m") else None
    if message_id is not None:
        messages.mark_clicked(session, message_id=message_id, at=now)
    if anchor is not None:
        events_service.record_activity(
            session,
            credential_id=actor.credential_id,
            channel=channel,
            location=actor.location,
            profile_id=live,
            anchor_id=anchor,
            event="Cart Restored",
            properties={
                "cart_id": str(state.cart.id),
                "message_id": str(message_id) if message_id else None,
                "campaign": "abandoned_cart",
            },
            message_id=f"cart-restored-{new_id()}",
            at=now,
        )
    return state


def _may_follow(session: Session, *, anonymous_id: str, person: UUID) -> bool:
    """A device that is someone else's (it holds a user id, an email ...) does not join the
    link's person: a forwarded reminder must never make two people one. It sees the cart
    and stays with its owner; a new or anonymous-only device follows the link as before."""
    customers_service.serialize_identity_changes(session)
    owner = customers_service.person_of_device(session, anonymous_id=anonymous_id)
    return owner is None or owner == person


@dataclasses.dataclass(frozen=True)
class OptOut:
    """What an opt-out link stops: one purpose on one channel for one person."""

    profile_id: UUID
    purpose: str
    channel: str
    # Whether messages of this purpose may be sent on this channel now.
    granted: bool


def unsubscribe_link(session: Session, *, token: str) -> OptOut:
    """What the link would stop, and whether it still holds; changes nothing (a mail
    scanner that opens every link must opt nobody out)."""
    data = _opt_out_data(session, token)
    profile_id = customers_service.live_profile(session, UUID(data["pr"])).id
    granted = allowed(session, profile_id=profile_id, purpose=data["pu"], channel=data["ch"])
    return OptOut(profile_id, data["pu"], data["ch"], granted)


def unsubscribe(session: Session, *, token: str) -> OptOut:
    """The opt-out itself (a POST: the link's page, or a mail reader's one-click, RFC 8058).
    Done twice, it records one change."""
    link = unsubscribe_link(session, token=token)
    if not link.granted:
        return link
    row = record_consent(
        session,
        profile_id=link.profile_id,
        purpose=link.purpose,
        channel=link.channel,
        granted=False,
        source="unsubscribe_link",
        at=utcnow(),
    )
    return OptOut(row.profile_id, row.purpose, row.channel, granted=False)


def _opt_out_data(session: Session, token: str) -> dict[str, Any]:
    try:
        return tokens.verify(tokens.settings_of(session), token, purpose=UNSUBSCRIBE, now=utcnow())
    except tokens.InvalidToken as exc:
        raise _invalid(str(exc)) from exc


def opened(session: Session, *, token: str) -> None:
    """The pixel was loaded; a bad token records nothing (the image answers anyway)."""
    now = utcnow()
    try:
        data = tokens.verify(tokens.settings_of(session), token, purpose=OPENED, now=now)
    except tokens.InvalidToken:
        return
    messages.mark_opened(session, message_id=UUID(data["m"]), at=now)
