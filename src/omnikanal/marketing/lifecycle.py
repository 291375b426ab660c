"""Triggers over the customer's life: a thank-you after a purchase, a win-back when a
customer has not ordered for a while, and "back in stock" for those who asked.

The first two are durable timers armed by ``order.placed``: ``marketing.post_purchase`` per
order (``OMNIKANAL_POST_PURCHASE_DELAY`` seconds later) and ``marketing.win_back`` per person
(``OMNIKANAL_WIN_BACK_DAYS`` after their latest order; each order moves it); both are
marketing email (opt-in, opt-out link, one message per firing). Back in stock reacts to
``stock.available_again`` for the people who asked (``POST /v1/marketing/stock-alerts``)."""

from datetime import timedelta
from typing import Any
from uuid import UUID

from sqlalchemy.orm import Session

from omnikanal.catalog import service as catalog_service
from omnikanal.customers import service as customers_service
from omnikanal.kit.ids import new_id
from omnikanal.kit.time import utcnow
from omnikanal.marketing import messages, repository, tokens, triggers
from omnikanal.marketing.models import (
    ConsentChannel,
    Message,
    MessageStatus,
    Purpose,
    StockAlert,
)
from omnikanal.marketing.service import allowed
from omnikanal.outbox.registry import PublishedEvent
from omnikanal.timers import service as timers_service
from omnikanal.timers.models import Timer

POST_PURCHASE = "marketing.post_purchase"
WIN_BACK = "marketing.win_back"


def order_placed(session: Session, event: PublishedEvent) -> None:
    data = event.payload
    if not data.get("profile_id"):
        return
    settings = tokens.settings_of(session)
    live = customers_service.live_profile(session, UUID(data["profile_id"])).id
    timers_service.schedule(
        session,
        kind=POST_PURCHASE,
        key=str(data["order_id"]),
        due_at=event.occurred_at + timedelta(seconds=settings.post_purchase_delay),
        payload={"profile_id": str(live), "number": data.get("number"), "skus": data.get("skus")},
    )
    timers_service.schedule(
        session,
        kind=WIN_BACK,
        key=str(live),
        due_at=event.occurred_at + timedelta(days=settings.win_back_days),
        payload={"profile_id": str(live), "last_order_id": str(data["order_id"])},
    )


def email_person(
    session: Session,
    *,
    key: str,
    kind: str,
    template: str,
    profile_id: UUID,
    context: dict[str, Any],
    purpose: str = Purpose.MARKETING,
) -> Message:
    """One marketing email (recorded once per ``key``), or a ``suppressed`` entry saying why."""
    settings = tokens.settings_of(session)
    live = customers_service.live_profile(session, profile_id)
    view = customers_service.get_profile(session, profile_id=live.id)
    emails = [i.value for i in view.identifiers if i.type == "email"]
    channel = ConsentChannel.EMAIL
    base: dict[str, Any] = {
        "key": key,
        "kind": kind,
        "profile_id": live.id,
        "channel": channel,
        "recipient": emails[-1] if emails else None,
        "template": template,
    }
    reason = None
    if not allowed(session, profile_id=live.id, purpose=purpose, channel=channel):
        reason = f"no {purpose} email consent"
    elif not emails:
        reason = "no email address"
    if reason is not None:
        return messages.queue(
            session, **base, context={}, status=MessageStatus.SUPPRESSED, reason=reason
        )[0]
    message_id = new_id()
    full = {
        "first_name": (live.traits or {}).get("first_name"),
        "unsubscribe_url": (
            triggers.unsubscribe_url(settings, profile_id=live.id, channel=channel)
            if purpose == Purpose.MARKETING
            else None
        ),
        "open_url": triggers.open_url(settings, message_id=message_id),
        **context,
    }
    return messages.queue(session, **base, context=full, message_id=message_id)[0]


def post_purchase_fired(session: Session, timer: Timer) -> None:
    names = []
    for sku in timer.payload.get("skus") or []:
        names.append(catalog_service.product(session, sku=sku).name)
    email_person(
        session,
        key=f"post_purchase:{timer.key}",
        kind="post_purchase",
        template="post_purchase",
        profile_id=UUID(timer.payload["profile_id"]),
        context={
            "number": timer.payload.get("number"),
            "products": names,
            "suggestions": triggers.suggestions(
                session, profile_id=UUID(timer.payload["profile_id"]), context="email"
            ),
        },
    )


def win_back_fired(session: Session, timer: Timer) -> None:
    email_person(
        session,
        key=f"win_back:{timer.key}:{timer.payload.get('last_order_id')}",
        kind="win_back",
        template="win_back",
        profile_id=UUID(timer.payload["profile_id"]),
        context={"days": tokens.settings_of(session).win_back_days},
    )


# -- back in stock --


def ask_for_stock_alert(session: Session, *, profile_id: UUID, sku: str) -> StockAlert:
    """The person wants to hear when ``sku`` can be bought again (once per wait)."""
    catalog_service.product(session, sku=sku)
    live = customers_service.live_profile(session, profile_id).id
    waiting = repository.waiting_alerts(session, sku=sku, profile_ids=[live])
    if waiting:
        return waiting[0]
    alert = StockAlert(profile_id=live, sku=sku)
    session.add(alert)
    session.flush()
    return alert


def available_again(session: Session, event: PublishedEvent) -> None:
    """A location that had none has some again: everyone waiting for it is told, once. The
    person asked for it, so this is a transactional email (an opt-out is honoured)."""
    data = event.payload
    sku = str(data["sku"])
    alerts = repository.waiting_alerts(session, sku=sku)
    if not alerts:
        return
    product = catalog_service.product(session, sku=sku)
    now = utcnow()
    for alert in alerts:
        email_person(
            session,
            key=f"back_in_stock:{alert.id}",
            kind="back_in_stock",
            template="back_in_stock",
            profile_id=alert.profile_id,
            context={
                "name": product.name,
                "image_url": product.image_urls[0] if product.image_urls else None,
            },
            purpose=Purpose.TRANSACTIONAL,
        )
        alert.status, alert.notified_at = "notified", now
    session.flush()
