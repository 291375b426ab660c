"""Catalog rules: one product description and one price for every channel.

``price`` is the single function every channel's price comes from (the web shop, the
app, the tills through their orders): list price from the price book at that moment,
the best promotion that applies on that channel, VAT included.
"""

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy.orm import Session

from omnikanal.catalog import pricing, repository
from omnikanal.catalog.models import Price, Product, Promotion
from omnikanal.catalog.pricing import Quote
from omnikanal.errors import Conflict, NotFound, RuleViolation
from omnikanal.kit.time import utcnow
from omnikanal.uow import DomainEvent, record_event


class CatalogErrorCode(StrEnum):
    PRODUCT_NOT_FOUND = "product_not_found"
    NO_PRICE = "no_price"
    PROMOTION_EXISTS = "promotion_exists"


@dataclasses.dataclass(frozen=True)
class ProductChanged(DomainEvent):
    type: ClassVar[str] = "product.changed"
    sku: str
    created: bool


@dataclasses.dataclass(frozen=True)
class PriceChanged(DomainEvent):
    type: ClassVar[str] = "price.changed"
    sku: str
    currency: str
    amount: int
    valid_from: datetime


@dataclasses.dataclass(frozen=True)
class PromotionCreated(DomainEvent):
    type: ClassVar[str] = "promotion.created"
    code: str
    channels: list[str]
    starts_at: datetime
    ends_at: datetime


def product(session: Session, *, sku: str) -> Product:
    found = repository.get_product(session, sku)
    if found is None:
        raise NotFound(CatalogErrorCode.PRODUCT_NOT_FOUND, f"No product with SKU {sku!r}.")
    return found


@dataclasses.dataclass(frozen=True)
class ProductFacts:
    """What an order line copies from the product: its name and VAT rate."""

    name: str
    vat_rate_bp: int


def product_facts(session: Session, *, skus: Sequence[str]) -> dict[str, ProductFacts]:
    """The products of these SKUs that exist, in one query per 1,000 (bulk imports)."""
    return {
        sku: ProductFacts(name=name, vat_rate_bp=vat)
        for sku, name, vat in repository.products_named(session, skus)
    }


def upsert_product(session: Session, *, sku: str, fields: dict[str, Any]) -> tuple[Product, bool]:
    """Create the product or replace its description; True when it was created. Two
    requests creating one SKU at once both succeed: the later one replaces."""
    created = repository.get_product(session, sku) is None and repository.insert_product(
        session, sku=sku, fields=fields
    )
    existing = repository.get_product(session, sku)
    assert existing is not None  # inserted now, or by the request that won
    if not created:
        for name, value in fields.items():
            setattr(existing, name, value)
        existing.updated_at = utcnow()
    session.flush()
    _forget_quotes(session)
    record_event(session, ProductChanged(sku=sku, created=created))
    return existing, created


def set_price(
    session: Session, *, sku: str, currency: str, amount: int, valid_from: datetime | None
) -> Price:
    product(session, sku=sku)
    price = Price(sku=sku, currency=currency, amount=amount, valid_from=valid_from or utcnow())
    session.add(price)
    session.flush()
    _forget_quotes(session)
    record_event(
        session,
        PriceChanged(sku=sku, currency=currency, amount=amount, valid_from=price.valid_from),
    )
    return price


def create_promotion(session: Session, *, fields: dict[str, Any]) -> Promotion:
    promotion = repository.insert_promotion(session, fields=fields)
    if promotion is None:
        raise Conflict(
            CatalogErrorCode.PROMOTION_EXISTS, f"A promotion {fields['code']!r} exists already."
        )
    _forget_quotes(session)
    record_event(
        session,
        PromotionCreated(
            code=promotion.code,
            channels=list(promotion.channels),
            starts_at=promotion.starts_at,
            ends_at=promotion.ends_at,
        ),
    )
    return promotion


# Quotes for "now", kept for the rest of the session (one request or job): a cart and its
# checkout ask for the same SKU's price several times. Catalog changes drop them.
NOW_QUOTES = "omnikanal.catalog.now_quotes"


def _forget_quotes(session: Session) -> None:
    session.info.pop(NOW_QUOTES, None)


def price(
    session: Session, *, sku: str, channel: str, currency: str, at: datetime | None = None
) -> Quote:
    """The price a channel charges for one unit of ``sku`` at ``at`` (default now)."""
    if at is not None:
        return _quote(session, sku=sku, channel=channel, currency=currency, at=at)
    quotes: dict[tuple[str, str, str], Quote] = session.info.setdefault(NOW_QUOTES, {})
    key = (sku, channel, currency)
    if key not in quotes:
        quotes[key] = _quote(session, sku=sku, channel=channel, currency=currency, at=utcnow())
    return quotes[key]


def _quote(session: Session, *, sku: str, channel: str, currency: str, at: datetime) -> Quote:
    item = product(session, sku=sku)
    listed = repository.price_at(session, sku, currency, at)
    if listed is None:
        known = ", ".join(repository.currencies_of(session, sku)) or "none"
        raise RuleViolation(
            CatalogErrorCode.NO_PRICE,
            f"{sku} has no {currency} price at {at.isoformat()} (currencies: {known}).",
        )
    return pricing.quote(
        sku=sku,
        category=item.category,
        vat_rate_bp=item.vat_rate_bp,
        list_price=listed.amount,
        currency=currency,
        channel=channel,
        at=at,
        promotions=repository.promotions(session, live_at=at),
    )


def current_prices(session: Session, *, sku: str) -> Sequence[Price]:
    now = utcnow()
    found = [
        repository.price_at(session, sku, c, now) for c in repository.currencies_of(session, sku)
    ]
    return sorted((p for p in found if p is not None), key=lambda p: p.currency)
