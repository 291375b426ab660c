"""The catalog in memory: products, the price book and the live promotions, kept per
process (per database) and checked with one read of ``catalog_version`` per transaction.

Every catalog change writes a new version token in its own transaction (``bump``), so
the next transaction of any process sees the token move and reads the catalog afresh:
several processes never disagree. A transaction that changed the catalog itself reads
through a private store (it sees its own uncommitted rows; nothing it read is shared).
"""

import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.orm import Session

from omnikanal.catalog import repository
from omnikanal.catalog.models import Promotion
from omnikanal.kit.ids import new_id

# session.info: (transaction, the store it reads), and the transaction that changed the
# catalog (compared by identity: a later transaction of the session is not it).
STORE_INFO_KEY = "omnikanal.catalog.store"
CHANGED_INFO_KEY = "omnikanal.catalog.changed"
# A process keeps at most this many products; past it, the store starts again.
MOST_PRODUCTS = 200_000


@dataclass(frozen=True)
class Listing:
    """What selling a product needs of it."""

    sku: str
    name: str
    family: str  # the product its variants share (every size and colour of the coat)
    category: str
    vat_rate_bp: int
    image_url: str | None
    active: bool


@dataclass(frozen=True)
class HeldPromotion:
    """A promotion as pricing reads it (plain values, safe to share between threads)."""

    code: str
    kind: str
    value: int
    currency: str | None
    skus: frozenset[str]
    categories: frozenset[str]
    channels: tuple[str, ...]
    starts_at: datetime
    ends_at: datetime
    active: bool
    experiment: str | None = None
    variant: str | None = None

    @classmethod
    def of(cls, promotion: Promotion) -> "HeldPromotion":
        return cls(
            code=promotion.code,
            kind=promotion.kind,
            value=promotion.value,
            currency=promotion.currency,
            skus=frozenset(promotion.skus),
            categories=frozenset(promotion.categories),
            channels=tuple(promotion.channels),
            starts_at=promotion.starts_at,
            ends_at=promotion.ends_at,
            active=promotion.active,
            experiment=promotion.experiment,
            variant=promotion.variant,
        )


# (valid_from, amount) of a SKU's price book entries in one currency, in book order.
PriceEntries = tuple[tuple[datetime, int], ...]


class Store:
    """The catalog as one version of it says; filled SKU by SKU as they are asked for."""

    def __init__(self, version: UUID | None) -> None:
        self.version = version
        self.listings: dict[str, Listing | None] = {}
        self.prices: dict[str, dict[str, PriceEntries]] = {}
        self.promotions: tuple[HeldPromotion, ...] | None = None
        self._lock = threading.Lock()

    def load(self, session: Session, skus: Sequence[str]) -> None:
        """Read the SKUs not held yet: their products and price book entries, two queries."""
        missing = sorted({sku for sku in skus if sku not in self.listings})
        if not missing:
            return
        listings: dict[str, Listing | None] = dict.fromkeys(missing)
        for row in repository.listing_rows(session, missing):
            listings[row.sku] = Listing(
                sku=row.sku,
                name=row.name,
                family=row.family,
                category=row.category,
                vat_rate_bp=row.vat_rate_bp,
                image_url=row.image_urls[0] if row.image_urls else None,
                active=row.active,
            )
        prices: dict[str, dict[str, list[tuple[datetime, int]]]] = {sku: {} for sku in missing}
        for sku, currency, amount, valid_from in repository.prices_of(session, missing):
            prices[sku].setdefault(currency, []).append((valid_from, amount))
        with self._lock:
            if len(self.listings) + len(missing) > MOST_PRODUCTS:
                self.listings.clear()
                self.prices.clear()
            for sku in missing:
                self.prices[sku] = {c: tuple(e) for c, e in prices[sku].items()}
            # Listings last: a SKU held here has its prices held too.
            self.listings.update(listings)

    def live_promotions(self, session: Session) -> tuple[HeldPromotion, ...]:
        found = self.promotions
        if found is None:
            found = tuple(HeldPromotion.of(p) for p in repository.active_promotions(session))
            self.promotions = found
        return found


class _Shared:
    """One database's store, shared by the threads of a process."""

    def __init__(self) -> None:
        self.store = Store(version=None)
        self.lock = threading.Lock()

    def for_version(self, version: UUID | None) -> Store:
        with self.lock:
            if self.store.version != version or version is None:
                self.store = Store(version)
            return self.store


# Per connection pool (one per engine, so per database, shared by its read-only twin).
_shared: "weakref.WeakKeyDictionary[Any, _Shared]" = weakref.WeakKeyDictionary()
_shared_lock = threading.Lock()


def _shared_of(session: Session) -> _Shared:
    pool = session.get_bind().engine.pool
    with _shared_lock:
        found = _shared.get(pool)
        if found is None:
            found = _shared[pool] = _Shared()
        return found


def store(session: Session) -> Store:
    """The catalog store this transaction reads: the process's, checked against the
    version once per transaction; a private one once this transaction changed it."""
    transaction = session.get_transaction()
    memo = session.info.get(STORE_INFO_KEY)
    if transaction is not None and memo is not None and memo[0] is transaction:
        held: Store = memo[1]
        return held
    if transaction is not None and session.info.get(CHANGED_INFO_KEY) is transaction:
        found = Store(version=None)
    else:
        version = repository.catalog_version(session)
        found = _shared_of(session).for_version(version)
    session.info[STORE_INFO_KEY] = (session.get_transaction(), found)
    return found


def bump(session: Session) -> None:
    """The catalog changed in this transaction: a new version token for every process;
    this transaction reads the catalog itself (its own changes) from now on."""
    repository.set_catalog_version(session, new_id())
    session.info[CHANGED_INFO_KEY] = session.get_transaction()
    session.info.pop(STORE_INFO_KEY, None)
