"""Every query of the catalog domain."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from omnikanal.catalog.models import Price, Product, Promotion


def get_product(session: Session, sku: str) -> Product | None:
    return session.get(Product, sku)


def products_named(session: Session, skus: Sequence[str]) -> Sequence[tuple[str, str, int]]:
    """(sku, name, VAT rate) of those of ``skus`` that exist, in chunks of 1,000."""
    unique = sorted(set(skus))
    found: list[tuple[str, str, int]] = []
    for at in range(0, len(unique), 1000):
        query = select(Product.sku, Product.name, Product.vat_rate_bp).where(
            Product.sku.in_(unique[at : at + 1000])
        )
        found.extend((sku, name, vat) for sku, name, vat in session.execute(query))
    return found


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
) -> Sequence[Product]:
    query = select(Product).where(Product.active)
    if category is not None:
        query = query.where(Product.category == category)
    if family is not None:
        query = query.where(Product.family == family)
    if after is not None:
        query = query.where(Product.sku > after)
    return session.scalars(query.order_by(Product.sku).limit(limit)).all()


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
