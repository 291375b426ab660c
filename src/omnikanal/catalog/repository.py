"""Every query of the catalog domain."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast
from uuid import UUID

from sqlalchemy import Row, Table, bindparam, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from omnikanal.catalog.models import CatalogVersion, Price, Product, Promotion
from omnikanal.db import insert_ignoring_duplicates, one_of
from omnikanal.kit.time import utcnow


def get_product(session: Session, sku: str) -> Product | None:
    return session.get(Product, sku)


def products_named(session: Session, skus: Sequence[str]) -> Sequence[tuple[str, str, int]]:
    """(sku, name, VAT rate) of those of ``skus`` that exist, in one query."""
    c = product_table.c
    query = select(c.sku, c.name, c.vat_rate_bp).where(one_of(c.sku, skus))
    return session.execute(query).all()


def insert_product(session: Session, *, sku: str, fields: dict[str, Any]) -> bool:
    """Insert the product unless its SKU exists; False when it did (made meanwhile by a
    concurrent request, whose commit this waits for on PostgreSQL)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    table = cast(Table, Product.__table__)
    statement = (
        insert(table).values(sku=sku, **fields).on_conflict_do_nothing(index_elements=["sku"])
    )
    # RETURNING, not rowcount: psycopg reports -1 for an insert, made or not.
    return session.execute(statement.returning(table.c.sku)).first() is not None


def insert_promotion(session: Session, *, fields: dict[str, Any]) -> Promotion | None:
    """Insert the promotion unless its code exists (also when a concurrent request made
    it a moment ago); None then."""
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    table = cast(Table, Promotion.__table__)
    statement = insert(table).values(**fields).on_conflict_do_nothing(index_elements=["code"])
    made = session.execute(statement.returning(table.c.id)).scalar()
    return None if made is None else session.get(Promotion, made)


def products_page(
    session: Session,
    *,
    category: str | None,
    family: str | None,
    after: str | None,
    limit: int,
    text: str | None = None,
) -> Sequence[Product]:
    """Active products in SKU order after ``after``; with ``text``, those whose barcode is
    it or whose name or SKU holds it, any case. A substring reads every row: fine for a
    retailer's catalog of thousands; a trigram index is the step past that."""
    query = select(Product).where(Product.active)
    if text is not None:
        query = query.where(
            or_(
                Product.barcode == text,
                Product.name.icontains(text, autoescape=True),
                Product.sku.icontains(text, autoescape=True),
            )
        )
    if category is not None:
        query = query.where(Product.category == category)
    if family is not None:
        query = query.where(Product.family == family)
    if after is not None:
        query = query.where(Product.sku > after)
    return session.scalars(query.order_by(Product.sku).limit(limit)).all()


def sku_with_barcode(session: Session, barcode: str, *, other_than: str) -> str | None:
    query = select(Product.sku).where(Product.barcode == barcode, Product.sku != other_than)
    return session.scalar(query.limit(1))


def price_at(session: Session, sku: str, currency: str, at: datetime) -> Price | None:
    query = (
        select(Price)
        .where(Price.sku == sku, Price.currency == currency, Price.valid_from <= at)
        .order_by(Price.valid_from.desc(), Price.id.desc())
        .limit(1)
    )
    return session.scalar(query)


def currencies_of(session: Session, sku: str) -> list[str]:
    return list(session.scalars(select(Price.currency).where(Price.sku == sku).distinct()))


def promotion_by_code(session: Session, code: str) -> Promotion | None:
    return session.scalar(select(Promotion).where(Promotion.code == code))


def promotions(session: Session, *, live_at: datetime | None) -> Sequence[Promotion]:
    query = select(Promotion)
    if live_at is not None:
        query = query.where(
            Promotion.active,
            Promotion.starts_at <= live_at,
            Promotion.ends_at > live_at,
        )
    return session.scalars(query.order_by(Promotion.starts_at.desc())).all()


# -- bulk (imports) --

product_table = cast(Table, Product.__table__)
price_table = cast(Table, Price.__table__)
# Keys per IN (...): well inside SQLite's and PostgreSQL's bound parameters.
IN_CHUNK = 1000


def _chunks(items: Sequence[str]) -> list[Sequence[str]]:
    return [items[i : i + IN_CHUNK] for i in range(0, len(items), IN_CHUNK)]


def products_by_sku(session: Session, skus: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The products of these SKUs that exist, as plain rows (column -> value)."""
    found: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(sorted(set(skus))):
        query = select(product_table).where(product_table.c.sku.in_(chunk))
        found.update({row.sku: dict(row._mapping) for row in session.execute(query)})
    return found


def insert_products(session: Session, rows: Sequence[dict[str, Any]]) -> set[str]:
    """Insert these products; the SKUs actually inserted (one made meanwhile is skipped)."""
    made = insert_ignoring_duplicates(
        session, product_table, rows, keys=("sku",), returning=("sku",)
    )
    return {row[0] for row in made}


def update_products(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Each row's columns set on its SKU's product; rows name the same columns."""
    if not rows:
        return
    columns = [name for name in rows[0] if name != "sku"]
    statement = (
        update(product_table)
        .where(product_table.c.sku == bindparam("key_sku"))
        .values({name: bindparam(f"new_{name}") for name in columns})
    )
    session.execute(
        statement,
        [{"key_sku": row["sku"], **{f"new_{name}": row[name] for name in columns}} for row in rows],
    )


def prices_of(session: Session, skus: Sequence[str]) -> list[tuple[str, str, int, datetime]]:
    """(sku, currency, amount, valid_from) of every price book entry of these SKUs, in
    the order the price book reads them (the last one of a moment wins)."""
    found: list[tuple[str, str, int, datetime]] = []
    c = price_table.c
    for chunk in _chunks(sorted(set(skus))):
        query = (
            select(c.sku, c.currency, c.amount, c.valid_from)
            .where(c.sku.in_(chunk))
            .order_by(c.valid_from, c.id)
        )
        found.extend((s, cur, a, v) for s, cur, a, v in session.execute(query))
    return found


def insert_prices(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(price_table), list(rows))


# -- the catalog in memory (cache.py) --

version_table = cast(Table, CatalogVersion.__table__)
VERSION_ROW = 1


def catalog_version(session: Session) -> UUID | None:
    found: UUID | None = session.scalar(
        select(version_table.c.version).where(version_table.c.id == VERSION_ROW)
    )
    return found


def set_catalog_version(session: Session, version: UUID) -> None:
    """A new token, in one statement (the row is made if it is missing)."""
    dialect = session.get_bind().dialect.name
    insert_into = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = insert_into(version_table).values(
        id=VERSION_ROW, version=version, changed_at=utcnow()
    )
    statement = statement.on_conflict_do_update(
        index_elements=["id"],
        set_={"version": statement.excluded.version, "changed_at": statement.excluded.changed_at},
    )
    session.execute(statement)


def listing_rows(session: Session, skus: Sequence[str]) -> list[Row[Any]]:
    """(sku, name, family, category, vat_rate_bp, image_urls, active) of those of ``skus``
    that exist."""
    c = product_table.c
    found: list[Row[Any]] = []
    for chunk in _chunks(sorted(set(skus))):
        query = select(c.sku, c.name, c.family, c.category, c.vat_rate_bp, c.image_urls, c.active)
        found.extend(session.execute(query.where(c.sku.in_(chunk))))
    return found


def active_promotions(session: Session) -> Sequence[Promotion]:
    """Every active promotion, whatever its window (pricing checks the moment)."""
    query = select(Promotion).where(Promotion.active).order_by(Promotion.starts_at.desc())
    return session.scalars(query).all()


def count_active_products(session: Session) -> int:
    return int(session.scalar(select(func.count(Product.sku)).where(Product.active)) or 0)
