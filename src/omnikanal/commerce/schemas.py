import re
from datetime import datetime
from typing import Annotated, Any, Literal, Self
from uuid import UUID

from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)

from omnikanal.auth.models import Channel
from omnikanal.catalog.schemas import Sku
from omnikanal.kit.countries import CountryCode
from omnikanal.kit.limits import MinorUnits, Moment, Quantity
from omnikanal.kit.money import CurrencyCode, Money, MoneyIn

Text = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
IdentifierText = Annotated[
    str, StringConstraints(min_length=1, max_length=300, strip_whitespace=True)
]
LocationCode = Annotated[str, StringConstraints(min_length=1, max_length=100)]
Email = Annotated[str, StringConstraints(max_length=320)]
# The channel's own number for an order (commerce_order.external_reference).
ExternalReference = Annotated[str, StringConstraints(max_length=100)]
OrderNumber = Annotated[str, StringConstraints(max_length=20)]

_PLAIN_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _day_starts_in_utc(value: Any) -> Any:
    if isinstance(value, str) and _PLAIN_DATE.match(value):
        return f"{value}T00:00:00+00:00"
    return value


# A report's bound: a zoned date-time, or a plain date meaning the start of that day in
# UTC (as the CLI's --since 2026-11-01). A zone-less date-time is refused, not guessed.
ReportMoment = Annotated[
    Moment,
    BeforeValidator(_day_starts_in_utc),
    WithJsonSchema(
        {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "string", "format": "date"}]}
    ),
]

MAX_LINES = 200


# -- requests --


class CartItemCreate(BaseModel):
    sku: Sku
    quantity: Quantity = 1


class CartCreate(BaseModel):
    """Whatever identifies the buyer on this device; the person's cart is found or made."""

    anonymous_id: IdentifierText | None = None
    user_id: IdentifierText | None = None
    email: Email | None = None
    currency: CurrencyCode
    items: list[CartItemCreate] = Field(default_factory=list, max_length=MAX_LINES)
    channel: Channel | None = Field(
        default=None, description="For keys bound to no channel (admin); others use their own."
    )


class CartQuantity(BaseModel):
    quantity: int = Field(strict=True, ge=0, le=9_999, description="0 removes the line.")


class Address(BaseModel):
    name: Text
    street: Text
    postal_code: Annotated[str, StringConstraints(min_length=1, max_length=20)]
    city: Text
    country: CountryCode
    phone: Annotated[str, StringConstraints(max_length=40)] | None = None


class FulfilmentRequestBody(BaseModel):
    type: Literal["delivery", "click_and_collect", "in_store"]
    location: LocationCode | None = Field(
        default=None, description="click_and_collect: the store to collect at."
    )
    address: Address | None = Field(default=None, description="delivery: where to.")

    @model_validator(mode="after")
    def complete(self) -> Self:
        if self.type == "delivery" and self.address is None:
            raise ValueError("address: a delivery needs its address")
        if self.type == "click_and_collect" and self.location is None:
            raise ValueError("location: click-and-collect needs the store to collect at")
        return self


class TenderCreate(BaseModel):
    type: Literal["card", "gift_card", "cash", "loyalty_points"]
    reference: Annotated[str, StringConstraints(max_length=200)] | None = Field(
        default=None, description="A card token or gift card number; refunds go back to it."
    )
    amount: MoneyIn | None = Field(
        default=None, description="Leave out on one tender: it pays what the others do not."
    )
    points: int | None = Field(
        default=None,
        strict=True,
        gt=0,
        le=10_000_000,
        description="loyalty_points: the points to spend; they pay what the program says.",
    )

    @model_validator(mode="after")
    def points_for_points(self) -> Self:
        if self.type == "loyalty_points" and (self.points is None or self.amount is not None):
            raise ValueError("points: a loyalty_points tender gives points, not an amount")
        if self.type != "loyalty_points" and self.points is not None:
            raise ValueError("points: only a loyalty_points tender spends points")
        return self


class CheckoutRequest(BaseModel):
    fulfilment: FulfilmentRequestBody
    tenders: list[TenderCreate] = Field(min_length=1, max_length=10)
    email: Email | None = Field(
        default=None, description="Where the receipt and pickup notices go."
    )
    external_reference: ExternalReference | None = None
    channel: Channel | None = None


class OrderLineCreate(BaseModel):
    sku: Sku
    quantity: Quantity
    unit_price: MinorUnits | None = Field(
        default=None,
        description="What the till charged for one unit, minor units; default the price book's.",
    )


class CustomerRef(BaseModel):
    """Any of these links the order to the person (S10); none leaves it anonymous."""

    profile_id: UUID | None = None
    user_id: IdentifierText | None = None
    email: Email | None = None
    phone: Annotated[str, StringConstraints(max_length=40)] | None = None
    loyalty_card: Annotated[str, StringConstraints(max_length=100)] | None = None

    def traits(self) -> dict[str, Any]:
        found = {"email": self.email, "phone": self.phone, "loyalty_card": self.loyalty_card}
        return {name: value for name, value in found.items() if value}


class OrderCreate(BaseModel):
    """A till sale (default: in_store at the key's store) or an order taken for a customer
    (endless aisle: delivery from wherever the stock is)."""

    currency: CurrencyCode
    lines: list[OrderLineCreate] = Field(min_length=1, max_length=MAX_LINES)
    tenders: list[TenderCreate] = Field(min_length=1, max_length=10)
    fulfilment: FulfilmentRequestBody = Field(
        default_factory=lambda: FulfilmentRequestBody(type="in_store")
    )
    customer: CustomerRef | None = None
    email: Email | None = None
    external_reference: ExternalReference | None = Field(
        default=None, description="The till's receipt number or the channel's own order id."
    )
    location: LocationCode | None = Field(
        default=None, description="The store it is sold in; store keys: their own."
    )
    channel: Channel | None = None


class ReturnLineCreate(BaseModel):
    sku: Sku
    quantity: Quantity


class ReturnCreate(BaseModel):
    order_id: UUID | None = None
    order_number: OrderNumber | None = None
    lines: list[ReturnLineCreate] = Field(min_length=1, max_length=MAX_LINES)
    location: LocationCode | None = Field(
        default=None,
        description="Where the goods came back: a store (store keys: their own), or the "
        "warehouse for returns by post.",
    )
    reason: Annotated[str, StringConstraints(max_length=500)] | None = None
    channel: Channel | None = None

    @model_validator(mode="after")
    def names_the_order(self) -> Self:
        if self.order_id is None and not self.order_number:
            raise ValueError("order_id: name the order (order_id or order_number)")
        return self


# -- responses --


class CartLineRead(BaseModel):
    sku: str
    name: str
    image_url: str | None
    quantity: int
    list_price: Money
    discount: Money
    unit_price: Money = Field(description="Today's price on this channel, VAT included.")
    line_total: Money
    vat_rate_bp: int
    promotion_code: str | None
    unit_price_when_added: Money
    price_changed: bool = Field(description="The price moved since the line was added.")
    added_at: datetime


class VatRead(BaseModel):
    rate_bp: int
    amount: Money


class CartRead(BaseModel):
    id: UUID
    status: str
    profile_id: UUID
    channel: str = Field(description="The channel the prices are for.")
    currency: str
    lines: list[CartLineRead]
    total: Money
    vat: list[VatRead]
    price_changed: bool
    merged_cart_ids: list[UUID] = Field(
        description="The person's other carts, whose lines are shown here (they merge)."
    )
    order_id: UUID | None
    created_at: datetime
    updated_at: datetime


class OrderLineRead(BaseModel):
    sku: str
    name: str
    quantity: int
    returned_quantity: int
    unit_price: Money = Field(description="What was charged for one unit.")
    book_unit_price: Money = Field(description="What the price book said then.")
    list_price: Money
    promotion_code: str | None
    line_total: Money
    vat_rate_bp: int
    vat_amount: Money
    stock_location: str


class TenderRead(BaseModel):
    type: str
    reference: str | None
    amount: Money
    points: int | None
    refunded: Money


class RefundRead(BaseModel):
    id: UUID
    return_id: UUID | None
    tender_type: str
    reference: str | None
    amount: Money
    created_at: datetime


class OrderRead(BaseModel):
    id: UUID
    number: str
    status: str
    channel: str
    location: str | None
    profile_id: UUID | None
    cart_id: UUID | None
    fulfilment: str
    pickup_location: str | None
    delivery_address: dict[str, Any] | None
    email: str | None
    external_reference: str | None
    total: Money
    vat: list[VatRead]
    lines: list[OrderLineRead]
    tenders: list[TenderRead]
    refunds: list[RefundRead]
    placed_at: datetime
    ready_at: datetime | None
    arrived_at: datetime | None
    handed_over_at: datetime | None
    cancelled_at: datetime | None


class OrderPage(BaseModel):
    profile_id: UUID
    items: list[OrderRead]
    next_cursor: str | None = None


class ReturnLineRead(BaseModel):
    sku: str
    quantity: int
    refund: Money


class ReturnRead(BaseModel):
    id: UUID
    order_id: UUID
    order_number: str
    location: str
    channel: str
    reason: str | None
    refund_total: Money
    lines: list[ReturnLineRead]
    refunds: list[RefundRead]
    created_at: datetime


class AuditRowRead(BaseModel):
    channel: str
    sku: str
    currency: str
    lines: int
    mismatched: int
    difference: int = Field(description="Charged minus the book price over all units.")


class MismatchRead(BaseModel):
    order_number: str
    order_id: str
    channel: str
    location: str | None
    sku: str
    quantity: int
    charged: int
    book_price: int
    currency: str
    placed_at: datetime


class PriceAuditRead(BaseModel):
    since: datetime
    until: datetime
    channel: str | None
    lines_checked: int
    mismatched: int
    rows: list[AuditRowRead] = Field(description="Per channel and SKU with any mismatch.")
    mismatches: list[MismatchRead] = Field(description="The mismatched lines, newest first.")
