"""The one price: list price from the price book, the best promotion that applies on this
channel at this moment, and the VAT inside it. Pure functions; the service feeds them."""

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from omnikanal.catalog.models import PromotionKind


class PromotionTerms(Protocol):
    """What pricing reads of a promotion (a row, or the catalog's copy in memory)."""

    @property
    def code(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def value(self) -> int: ...
    @property
    def currency(self) -> str | None: ...
    @property
    def skus(self) -> Collection[str]: ...
    @property
    def categories(self) -> Collection[str]: ...
    @property
    def channels(self) -> Collection[str]: ...
    @property
    def starts_at(self) -> datetime: ...
    @property
    def ends_at(self) -> datetime: ...
    @property
    def active(self) -> bool: ...
    @property
    def experiment(self) -> str | None: ...
    @property
    def variant(self) -> str | None: ...


@dataclass(frozen=True)
class Quote:
    sku: str
    channel: str
    currency: str
    at: datetime
    list_price: int
    discount: int
    unit_price: int
    vat_rate_bp: int
    vat_amount: int
    promotion_code: str | None


def _round_div(numerator: int, denominator: int) -> int:
    """Integer division rounding halves up (money never goes through floats)."""
    return (2 * numerator + denominator) // (2 * denominator)


def vat_included(amount: int, rate_bp: int) -> int:
    """The VAT inside a VAT-inclusive amount: 125 SEK at 25 % holds 25 SEK."""
    return _round_div(amount * rate_bp, 10_000 + rate_bp)


NO_VARIANTS: Mapping[str, str] = {}


def applies(
    promotion: PromotionTerms,
    *,
    sku: str,
    category: str,
    channel: str,
    currency: str,
    at: datetime,
    variants: Mapping[str, str] = NO_VARIANTS,
) -> bool:
    """``variants``: the buyer's variant per running experiment; a promotion limited to a
    variant applies only to its people (an offer under test)."""
    if not promotion.active or not promotion.starts_at <= at < promotion.ends_at:
        return False
    if promotion.experiment is not None and variants.get(promotion.experiment) != promotion.variant:
        return False
    if promotion.channels and channel not in promotion.channels:
        return False
    if promotion.kind == PromotionKind.FIXED and promotion.currency != currency:
        return False
    return sku in promotion.skus or category in promotion.categories


def discount_of(promotion: PromotionTerms, list_price: int) -> int:
    if promotion.kind == PromotionKind.PERCENT:
        off = _round_div(list_price * promotion.value, 10_000)
    else:
        off = promotion.value
    return min(max(off, 0), list_price)


def quote(
    *,
    sku: str,
    category: str,
    vat_rate_bp: int,
    list_price: int,
    currency: str,
    channel: str,
    at: datetime,
    promotions: Sequence[PromotionTerms],
    variants: Mapping[str, str] = NO_VARIANTS,
) -> Quote:
    """The best single promotion wins; promotions do not stack."""
    best: PromotionTerms | None = None
    best_off = 0
    for promotion in promotions:
        if not applies(
            promotion,
            sku=sku,
            category=category,
            channel=channel,
            currency=currency,
            at=at,
            variants=variants,
        ):
            continue
        off = discount_of(promotion, list_price)
        if off > best_off:
            best, best_off = promotion, off
    unit_price = list_price - best_off
    return Quote(
        sku=sku,
        channel=channel,
        currency=currency,
        at=at,
        list_price=list_price,
        discount=best_off,
        unit_price=unit_price,
        vat_rate_bp=vat_rate_bp,
        vat_amount=vat_included(unit_price, vat_rate_bp),
        promotion_code=best.code if best else None,
    )
