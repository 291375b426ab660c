from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from omnikanal.db import Base, JSONDocument
from omnikanal.kit.ids import new_id
from omnikanal.kit.time import utcnow


class Product(Base):
    """One sellable item (a variant: the grey wool coat in size 38). One description for
    every channel."""

    __tablename__ = "catalog_product"

    sku: Mapped[str] = mapped_column(String(64), primary_key=True)
    # The family groups variants (every size and colour of the wool coat).
    family: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(100), index=True)
    # The code printed on the item (EAN-13, UPC, or the retailer's own); a scanner types it.
    barcode: Mapped[str | None] = mapped_column(String(64), index=True)
    # {"size": "38", "colour": "grey"}
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    image_urls: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    # VAT included in prices, in basis points: 2500 = 25 %.
    vat_rate_bp: Mapped[int]
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Price(Base):
    """The price book: a SKU's price in a currency from a moment on (VAT included).
    Append-only, so the price at any past moment can be told (the price audit)."""

    __tablename__ = "catalog_price"
    __table_args__ = (Index("ix_catalog_price_lookup", "sku", "currency", "valid_from"),)

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    sku: Mapped[str] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int]
    valid_from: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PromotionKind:
    PERCENT = "percent"
    FIXED = "fixed"


class Promotion(Base):
    """A discount on SKUs or categories for a time window, on every channel unless
    ``channels`` names the only ones it is for."""

    __tablename__ = "catalog_promotion"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(10))
    # Percent: basis points (2000 = 20 %). Fixed: minor units off each unit.
    value: Mapped[int]
    currency: Mapped[str | None] = mapped_column(String(3))
    skus: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    categories: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    # Empty: every channel. Otherwise the only channels it applies on, said on purpose.
    channels: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set: only for people in this variant of this experiment (A/B testing an offer).
    experiment: Mapped[str | None] = mapped_column(String(100))
    variant: Mapped[str | None] = mapped_column(String(100))


class CatalogVersion(Base):
    """One row whose token changes in the same transaction as any catalog change: each
    process keeps the catalog in memory and reads only this to know it is still true."""

    __tablename__ = "catalog_version"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    # A new random token per change, never a counter: a rolled-back change's token is
    # never reused for other contents.
    version: Mapped[UUID]
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
