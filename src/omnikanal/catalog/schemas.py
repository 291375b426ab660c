from datetime import datetime
from typing import Annotated, Self
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from omnikanal.auth.models import Channel
from omnikanal.kit.limits import INT32_MAX, MinorUnits, Moment
from omnikanal.kit.money import CurrencyCode

Sku = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,64}$")]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
Family = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Category = Annotated[str, StringConstraints(min_length=1, max_length=100)]
# What scanners read: digits for EAN/UPC/GTIN, letters too for a retailer's own codes.
Barcode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]{4,64}$")]


class ProductWrite(BaseModel):
    """A product's one description, for every channel."""

    family: Family
    name: Name
    description: str = Field(default="", max_length=20_000)
    category: Category
    barcode: Barcode | None = Field(
        default=None,
        description="The code printed on the item (EAN-13, UPC or the retailer's own).",
    )
    attributes: dict[str, Annotated[str, StringConstraints(max_length=200)]] = Field(
        default_factory=dict, description='e.g. {"size": "38", "colour": "grey"}'
    )
    image_urls: list[Annotated[str, StringConstraints(pattern=r"^https?://", max_length=2000)]] = (
        Field(default_factory=list, max_length=20)
    )
    vat_rate_bp: int = Field(
        strict=True,
        ge=0,
        le=10_000,
        description="VAT included in the prices, basis points: 2500 = 25 %.",
    )
    active: bool = True


class PriceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    currency: str
    amount: int = Field(description="Minor units, VAT included.")
    valid_from: datetime


class ProductRead(ProductWrite):
    model_config = ConfigDict(from_attributes=True)

    sku: str
    prices: list[PriceRead] = Field(description="The price book's current list prices.")
    updated_at: datetime


class ProductPage(BaseModel):
    items: list[ProductRead]
    next_cursor: str | None = None


class PriceCreate(BaseModel):
    currency: CurrencyCode
    amount: MinorUnits = Field(gt=0, description="Minor units, VAT included.")
    valid_from: Moment | None = Field(default=None, description="Default: now.")


class PromotionCreate(BaseModel):
    code: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
    name: Name
    kind: Annotated[str, StringConstraints(pattern=r"^(percent|fixed)$")]
    value: int = Field(
        strict=True,
        gt=0,
        le=INT32_MAX,
        description="percent: basis points (2000 = 20 %); fixed: minor units off a unit.",
    )
    currency: CurrencyCode | None = Field(default=None, description="Required for fixed.")
    skus: list[Sku] = Field(default_factory=list)
    categories: list[Category] = Field(default_factory=list)
    channels: list[Channel] = Field(
        default_factory=list,
        description="Empty: every channel. Naming channels limits it to them, on purpose.",
    )
    starts_at: Moment
    ends_at: Moment
    experiment: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9][a-z0-9_-]{0,99}$",
        description="With `variant`: only for people in that variant of the experiment.",
    )
    variant: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9_-]{0,99}$")

    @model_validator(mode="after")
    def consistent(self) -> Self:
        if (self.experiment is None) != (self.variant is None):
            raise ValueError("variant: a promotion limited to a variant names both")
        if self.kind == "percent" and self.value > 10_000:
            raise ValueError("value: a percentage is at most 10000 basis points")
        if self.kind == "fixed" and self.currency is None:
            raise ValueError("currency: a fixed discount needs its currency")
        if not self.skus and not self.categories:
            raise ValueError("skus: name the SKUs or categories the promotion is for")
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at: must be after starts_at")
        return self


class PromotionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    code: str
    name: str
    kind: str
    value: int
    currency: str | None
    skus: list[str]
    categories: list[str]
    channels: list[str]
    starts_at: datetime
    ends_at: datetime
    active: bool
    experiment: str | None = None
    variant: str | None = None


class QuoteRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    sku: str
    channel: str
    currency: str
    at: datetime
    list_price: int = Field(description="The price book's price, minor units, VAT included.")
    discount: int
    unit_price: int = Field(description="What the channel charges for one unit.")
    vat_rate_bp: int
    vat_amount: int = Field(description="The VAT inside unit_price.")
    promotion_code: str | None
