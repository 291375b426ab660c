"""Catalog rules: one product description and one price for every channel.

``price`` is the single function every channel's price comes from (the web shop, the
app, the tills through their orders): list price from the price book at that moment,
the best promotion that applies on that channel, VAT included.
"""

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, NamedTuple

from sqlalchemy.orm import Session

from omnikanal.catalog import cache, pricing, repository
from omnikanal.catalog.cache import Listing
from omnikanal.catalog.models import Price, Product, Promotion
from omnikanal.catalog.pricing import Quote
from omnikanal.errors import Conflict, NotFound, RuleViolation
from omnikanal.kit.ids import new_id
from omnikanal.kit.time import utcnow
from omnikanal.uow import DomainEvent, record_event


class CatalogErrorCode(StrEnum):
    PRODUCT_NOT_FOUND = "product_not_found"
    NO_PRICE = "no_price"
    PROMOTION_EXISTS = "promotion_exists"
    BARCODE_TAKEN = "barcode_taken"


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


class ProductFacts(NamedTuple):  # a tuple: bulk imports make thousands a batch
    """What an order line copies from the product: its name and VAT rate."""

    name: str
    vat_rate_bp: int


def product_facts(session: Session, *, skus: Sequence[str]) -> dict[str, ProductFacts]:
    """The products of these SKUs that exist, in one query (bulk imports)."""
    return {
        sku: ProductFacts(name, vat) for sku, name, vat in repository.products_named(session, skus)
    }


def upsert_product(session: Session, *, sku: str, fields: dict[str, Any]) -> tuple[Product, bool]:
    """Create the product or replace its description; True when it was created. Two
    requests creating one SKU at once both succeed: the later one replaces."""
    _barcode_free(session, sku=sku, barcode=fields.get("barcode"))
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
    _catalog_changed(session)
    record_event(session, ProductChanged(sku=sku, created=created))
    return existing, created


def _barcode_free(session: Session, *, sku: str, barcode: str | None) -> None:
    """A barcode names one product: a scan must not find two."""
    holder = repository.sku_with_barcode(session, barcode, other_than=sku) if barcode else None
    if holder is not None:
        raise Conflict(
            CatalogErrorCode.BARCODE_TAKEN,
            f"Barcode {barcode} is already {holder}'s.",
            errors=[{"field": "body.barcode", "message": f"already {holder}'s"}],
        )


# Longest text product search looks for (a name, a SKU or a barcode is shorter).
MAX_SEARCH_LENGTH = 200


def search(
    session: Session, *, text: str, after: str | None = None, limit: int = 20
) -> Sequence[Product]:
    """Products by name or SKU (a part of either, any case) or by barcode (exactly), in
    SKU order; ``after`` is the last SKU of the page before."""
    wanted = text.strip()[:MAX_SEARCH_LENGTH]
    if not wanted:
        return []
    return repository.products_page(
        session, category=None, family=None, after=after, limit=limit, text=wanted
    )


def set_price(
    session: Session, *, sku: str, currency: str, amount: int, valid_from: datetime | None
) -> Price:
    product(session, sku=sku)
    price = Price(sku=sku, currency=currency, amount=amount, valid_from=valid_from or utcnow())
    session.add(price)
    session.flush()
    _catalog_changed(session)
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
    _catalog_changed(session)
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


def _catalog_changed(session: Session) -> None:
    session.info.pop(NOW_QUOTES, None)
    cache.bump(session)


def listings(session: Session, *, skus: Sequence[str]) -> dict[str, Listing]:
    """What selling these products needs (name, category, VAT, image), from the
    process's catalog in memory; 404 for the first SKU that is not a product."""
    store = cache.store(session)
    store.load(session, skus)
    found: dict[str, Listing] = {}
    for sku in skus:
        listing = store.listings.get(sku)
        if listing is None:
            raise NotFound(CatalogErrorCode.PRODUCT_NOT_FOUND, f"No product with SKU {sku!r}.")
        found[sku] = listing
    return found


def active_listings(session: Session, *, skus: Sequence[str]) -> dict[str, Listing]:
    """The listings of those of these SKUs that are active products (the others left
    out, no error), from the process's catalog in memory."""
    store = cache.store(session)
    store.load(session, skus)
    found: dict[str, Listing] = {}
    for sku in skus:
        listing = store.listings.get(sku)
        if listing is not None and listing.active:
            found[sku] = listing
    return found


def families(session: Session, *, skus: Sequence[str]) -> dict[str, str]:
    """The family (the product its variants share) of each of these SKUs that exists,
    active or not, from the process's catalog in memory."""
    store = cache.store(session)
    store.load(session, skus)
    return {sku: listing.family for sku in skus if (listing := store.listings.get(sku))}


def price(
    session: Session,
    *,
    sku: str,
    channel: str,
    currency: str,
    at: datetime | None = None,
    variants: Mapping[str, str] | None = None,
) -> Quote:
    """The price a channel charges for one unit of ``sku`` at ``at`` (default now)."""
    if at is not None:
        return _quote(session, sku=sku, channel=channel, currency=currency, at=at)
    return quotes(session, skus=[sku], channel=channel, currency=currency, variants=variants)[sku]


def variant_promotions(session: Session) -> bool:
    """Whether a live promotion is limited to an experiment's variant (from memory)."""
    return any(p.experiment for p in cache.store(session).live_promotions(session))


def quotes(
    session: Session,
    *,
    skus: Sequence[str],
    channel: str,
    currency: str,
    variants: Mapping[str, str] | None = None,
) -> dict[str, Quote]:
    """Today's price of each SKU on ``channel``: ``price`` for many at once, from the
    catalog in memory (no query once the process holds them). ``variants``: the buyer's
    variant per experiment, for promotions limited to one."""
    chosen = dict(variants or {})
    shown = tuple(sorted(chosen.items()))
    memo: dict[tuple[str, str, str, tuple[tuple[str, str], ...]], Quote] = session.info.setdefault(
        NOW_QUOTES, {}
    )
    wanted = [sku for sku in skus if (sku, channel, currency, shown) not in memo]
    if wanted:
        store = cache.store(session)
        held = listings(session, skus=wanted)
        promotions = store.live_promotions(session)
        now = utcnow()
        for sku in wanted:
            entries = store.prices.get(sku, {})
            listed = _listed_at(entries.get(currency, ()), now)
            if listed is None:
                known = ", ".join(sorted(entries)) or "none"
                raise RuleViolation(
                    CatalogErrorCode.NO_PRICE,
                    f"{sku} has no {currency} price at {now.isoformat()} (currencies: {known}).",
                )
            memo[(sku, channel, currency, shown)] = pricing.quote(
                sku=sku,
                category=held[sku].category,
                vat_rate_bp=held[sku].vat_rate_bp,
                list_price=listed,
                currency=currency,
                channel=channel,
                at=now,
                promotions=promotions,
                variants=chosen,
            )
    return {sku: memo[(sku, channel, currency, shown)] for sku in skus}


def _listed_at(entries: cache.PriceEntries, at: datetime) -> int | None:
    """The amount of the book's last entry from ``at`` or before (entries in book order)."""
    amount = None
    for valid_from, entry in entries:
        if valid_from > at:
            break
        amount = entry
    return amount


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


# -- bulk, from another system's export (imports) --

# What a product made by an import has where the file says nothing.
IMPORT_DEFAULTS: dict[str, Any] = {
    "description": "",
    "attributes": {},
    "image_urls": [],
    "vat_rate_bp": 2500,
    "active": True,
}
# A new product needs these; an existing one keeps what the file leaves out.
REQUIRED_NEW = ("name", "category")


class ImportStatus:
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    REFUSED = "refused"


@dataclasses.dataclass(frozen=True)
class Imported:
    status: str
    # When refused: the field at fault ("" for the item) and why.
    field: str = ""
    reason: str = ""


def existing_skus(session: Session, *, skus: Sequence[str]) -> set[str]:
    return set(repository.products_by_sku(session, skus))


def import_products(
    session: Session, *, products: Sequence[tuple[str, dict[str, Any]]]
) -> list[Imported]:
    """Create or update each (sku, fields) in bulk; fields left out keep their value (or
    take ``IMPORT_DEFAULTS`` on a new product). A product already as given is unchanged.
    The same SKU twice in one call: the later one wins."""
    existing = repository.products_by_sku(session, [sku for sku, _ in products])
    now = utcnow()
    results: list[Imported] = []
    new: dict[str, dict[str, Any]] = {}
    changed: dict[str, dict[str, Any]] = {}
    for sku, fields in products:
        before = existing.get(sku) or new.get(sku)
        if before is None:
            missing = [name for name in REQUIRED_NEW if not fields.get(name)]
            if missing:
                results.append(Imported(ImportStatus.REFUSED, missing[0], "required"))
                continue
            row = {**IMPORT_DEFAULTS, "family": sku, **fields, "sku": sku}
            new[sku] = {**row, "created_at": now, "updated_at": now}
            results.append(Imported(ImportStatus.CREATED))
            continue
        difference = {k: v for k, v in fields.items() if before.get(k) != v}
        if not difference:
            results.append(Imported(ImportStatus.UNCHANGED))
            continue
        before.update(difference)
        if sku in new:
            results.append(Imported(ImportStatus.CREATED))
            continue
        changed[sku] = before
        results.append(Imported(ImportStatus.UPDATED))
    repository.insert_products(session, list(new.values()))
    columns = (
        *("family", "name", "description", "category"),
        *("attributes", "image_urls", "vat_rate_bp", "active"),
    )
    repository.update_products(
        session,
        [
            {"sku": sku, **{c: row[c] for c in columns}, "updated_at": now}
            for sku, row in changed.items()
        ],
    )
    _catalog_changed(session)
    for sku in new:
        record_event(session, ProductChanged(sku=sku, created=True))
    for sku in changed:
        record_event(session, ProductChanged(sku=sku, created=False))
    return results


@dataclasses.dataclass(frozen=True)
class PriceGiven:
    sku: str
    currency: str
    amount: int
    # None: from now on, unless the price book already says this amount now.
    valid_from: datetime | None


def import_prices(session: Session, *, prices: Sequence[PriceGiven]) -> list[Imported]:
    """Add each price to the price book unless it already says so: the same amount from
    the same moment (or, without a moment, now) is unchanged; another amount from a
    moment already there is an update (the later entry wins); else created."""
    skus = {p.sku for p in prices}
    known = existing_skus(session, skus=sorted(skus))
    book: dict[tuple[str, str, datetime], int] = {}
    current: dict[tuple[str, str], tuple[datetime, int]] = {}
    now = utcnow()
    for sku, currency, amount, valid_from in repository.prices_of(session, sorted(known)):
        book[(sku, currency, valid_from)] = amount
        if valid_from <= now:
            current[(sku, currency)] = (valid_from, amount)
    results: list[Imported] = []
    rows: list[dict[str, Any]] = []
    for given in prices:
        if given.sku not in known:
            results.append(Imported(ImportStatus.REFUSED, "sku", "no product has this SKU"))
            continue
        if given.valid_from is None:
            listed = current.get((given.sku, given.currency))
            if listed is not None and listed[1] == given.amount:
                results.append(Imported(ImportStatus.UNCHANGED))
                continue
            moment, status = now, ImportStatus.CREATED if listed is None else ImportStatus.UPDATED
        else:
            moment = given.valid_from
            before = book.get((given.sku, given.currency, moment))
            if before == given.amount:
                results.append(Imported(ImportStatus.UNCHANGED))
                continue
            status = ImportStatus.CREATED if before is None else ImportStatus.UPDATED
        book[(given.sku, given.currency, moment)] = given.amount
        if moment <= now:
            current[(given.sku, given.currency)] = (moment, given.amount)
        rows.append(
            {
                "id": new_id(),
                "sku": given.sku,
                "currency": given.currency,
                "amount": given.amount,
                "valid_from": moment,
                "created_at": now,
            }
        )
        results.append(Imported(status))
    repository.insert_prices(session, rows)
    _catalog_changed(session)
    for row in rows:
        record_event(
            session,
            PriceChanged(
                sku=row["sku"],
                currency=row["currency"],
                amount=row["amount"],
                valid_from=row["valid_from"],
            ),
        )
    return results


# -- what the admins' console page lists --


def products_page(session: Session, *, after: str | None, limit: int) -> Sequence[Product]:
    """Active products by SKU, those after ``after``."""
    return repository.products_page(session, category=None, family=None, after=after, limit=limit)


def count_products(session: Session) -> int:
    return repository.count_active_products(session)


def promotions(session: Session, *, live_at: datetime | None = None) -> Sequence[Promotion]:
    """Promotions, the latest to start first (``live_at``: only those live then)."""
    return repository.promotions(session, live_at=live_at)
