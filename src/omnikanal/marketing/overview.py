"""What marketers look through: audiences, campaigns, the message log and stock alerts, a
page at a time (newest first, with an opaque cursor) with how many there are in all, and
the automated triggers with their delays and what each has done."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Generic, TypeVar

from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from omnikanal.catalog import service as catalog_service
from omnikanal.kit.pagination import decode_time_cursor, encode_time_cursor
from omnikanal.marketing import campaigns, lifecycle, repository, tokens, triggers
from omnikanal.marketing.models import Audience, Campaign, Message, MessageStatus, StockAlert
from omnikanal.timers import service as timers_service

T = TypeVar("T", Audience, Campaign, Message, StockAlert)


@dataclass(frozen=True)
class Listing(Generic[T]):
    items: Sequence[T]
    # How many there are with these filters, on every page.
    total: int
    next_cursor: str | None


def _listing(
    session: Session,
    model: type[T],
    *,
    conditions: Sequence[ColumnElement[bool]] = (),
    cursor: str | None,
    limit: int,
) -> Listing[T]:
    before = decode_time_cursor(cursor) if cursor else None
    rows = repository.newest_first(
        session, model, conditions=conditions, before=before, limit=limit + 1
    )
    shown = rows[:limit]
    more = len(rows) > limit
    return Listing(
        items=shown,
        total=repository.count_rows(session, model, conditions=conditions),
        next_cursor=encode_time_cursor(shown[-1].created_at, shown[-1].id) if more else None,
    )


def audiences_page(session: Session, *, cursor: str | None, limit: int) -> Listing[Audience]:
    return _listing(session, Audience, cursor=cursor, limit=limit)


def all_audiences(session: Session) -> Sequence[Audience]:
    """Every audience by name (a campaign's choice of audience)."""
    return repository.audiences_all(session)


def campaigns_page(session: Session, *, cursor: str | None, limit: int) -> Listing[Campaign]:
    return _listing(session, Campaign, cursor=cursor, limit=limit)


def messages_page(
    session: Session,
    *,
    status: str | None,
    kind: str | None = None,
    cursor: str | None,
    limit: int,
) -> Listing[Message]:
    conditions: list[ColumnElement[bool]] = []
    if status is not None:
        conditions.append(Message.status == status)
    if kind is not None:
        conditions.append(Message.kind == kind)
    return _listing(session, Message, conditions=conditions, cursor=cursor, limit=limit)


def stock_alerts_page(
    session: Session, *, status: str | None, cursor: str | None, limit: int
) -> Listing[StockAlert]:
    conditions = [StockAlert.status == status] if status is not None else []
    return _listing(session, StockAlert, conditions=conditions, cursor=cursor, limit=limit)


def product_names(session: Session, skus: Sequence[str]) -> dict[str, str]:
    return {sku: f.name for sku, f in catalog_service.product_facts(session, skus=skus).items()}


# -- the automated triggers --


@dataclass(frozen=True)
class TriggerSummary:
    name: str
    kind: str
    # When it fires, in words ("1 day after the cart's last change").
    fires: str
    # Why it may message a person: marketing needs an opt-in, a notice does not.
    purpose: str
    # Timers armed and waiting to fire (people it will reach unless they act).
    waiting: int
    # The trigger's messages by status.
    messages: dict[str, int]


def _duration(seconds: float) -> str:
    """A delay as a person says it: 90 minutes, 1 day, 3 days."""
    minutes = round(seconds / 60)
    if minutes < 120:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours = round(seconds / 3600)
    if hours < 48:
        return f"{hours} hours"
    days = seconds / 86400
    whole = round(days)
    return (
        f"{whole} day{'s' if whole != 1 else ''}" if abs(days - whole) < 0.05 else f"{hours} hours"
    )


def trigger_summaries(session: Session) -> list[TriggerSummary]:
    settings = tokens.settings_of(session)
    by_kind = repository.messages_by_kind(session)

    def counts(kind: str) -> dict[str, int]:
        return {status: by_kind.get((kind, status), 0) for status in MessageStatus.ALL}

    def waiting(timer_kind: str) -> int:
        return timers_service.count_scheduled(session, kind=timer_kind)

    waiting_alerts = repository.count_rows(
        session, StockAlert, conditions=[StockAlert.status == "waiting"]
    )
    return [
        TriggerSummary(
            "Abandoned cart",
            "abandoned_cart",
            f"{_duration(settings.abandoned_cart_delay)} after the cart's last change, "
            "unless the person buys",
            "marketing email",
            waiting(triggers.ABANDONED_CART),
            counts("abandoned_cart"),
        ),
        TriggerSummary(
            "Thank you after a purchase",
            "post_purchase",
            f"{_duration(settings.post_purchase_delay)} after each order",
            "marketing email",
            waiting(lifecycle.POST_PURCHASE),
            counts("post_purchase"),
        ),
        TriggerSummary(
            "Win-back",
            "win_back",
            f"{_duration(timedelta(days=settings.win_back_days).total_seconds())} after the "
            "person's latest order (each order moves it)",
            "marketing email",
            waiting(lifecycle.WIN_BACK),
            counts("win_back"),
        ),
        TriggerSummary(
            "Back in stock",
            "back_in_stock",
            "as soon as a location that had none has some again",
            "transactional email (the person asked)",
            waiting_alerts,
            counts("back_in_stock"),
        ),
        TriggerSummary(
            "Campaign sends",
            "campaign",
            "when a marketer sends or at the time scheduled; held during quiet hours",
            "marketing email, SMS, push",
            waiting(campaigns.SEND),
            counts("campaign"),
        ),
    ]
