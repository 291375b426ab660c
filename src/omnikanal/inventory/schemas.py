from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from omnikanal.catalog.schemas import Sku
from omnikanal.kit.countries import CountryCode
from omnikanal.kit.limits import Count, Delta

LocationCode = Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]{1,100}$")]


# Codes that would shadow a path: /v1/locations/nearby and /v1/inventory/transfers.
RESERVED_LOCATION_CODES = frozenset({"nearby", "transfers"})


def _not_a_path(code: str) -> str:
    if code in RESERVED_LOCATION_CODES:
        raise ValueError(f"{code!r} is taken by a path of the API; choose another code")
    return code


NewLocationCode = Annotated[LocationCode, AfterValidator(_not_a_path)]
LocationKind = Literal["store", "warehouse"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Text = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
Reference = Annotated[str, StringConstraints(min_length=1, max_length=200)]


def _opens_before_it_closes(hours: str) -> str:
    opens, closes = hours.split("-")
    if opens >= closes:
        raise ValueError(f"{hours}: opens before it closes (after midnight is not supported)")
    return hours


OpeningTimes = Annotated[
    str,
    StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d-(([01]\d|2[0-3]):[0-5]\d|24:00)$"),
    AfterValidator(_opens_before_it_closes),
]


class Address(BaseModel):
    street: Text
    postal_code: Annotated[str, StringConstraints(min_length=1, max_length=20)]
    city: Text
    country: CountryCode = Field(description="ISO 3166-1 alpha-2, e.g. SE.")


class LocationWrite(BaseModel):
    """A store or a warehouse."""

    name: Text
    kind: LocationKind
    address: Address
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    opening_hours: dict[Weekday, OpeningTimes | None] = Field(
        default_factory=dict,
        description='Local opening times per weekday, e.g. {"mon": "10:00-19:00", "sun": null} '
        "(null: closed that day).",
    )
    offers_pickup: bool = Field(default=False, description="Click-and-collect is offered here.")
    active: bool = True


class AddressRead(BaseModel):
    street: str | None = None
    postal_code: str | None = None
    city: str | None = None
    country: str | None = None


class LocationRead(BaseModel):
    """As stored (locations made in code rather than through PUT may lack an address)."""

    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    kind: str
    address: AddressRead
    latitude: float
    longitude: float
    opening_hours: dict[str, str | None]
    offers_pickup: bool
    active: bool


class LocationList(BaseModel):
    items: list[LocationRead]


class NearbyLocationRead(LocationRead):
    distance_km: float = Field(description="Great-circle distance from the asked-for point.")
    available: int | None = Field(
        default=None, description="Units of the asked-for SKU available here (only with sku)."
    )


class NearbyList(BaseModel):
    items: list[NearbyLocationRead]


class StockRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    location: str
    sku: str
    on_hand: int
    reserved: int = Field(description="Held for customers who will collect; expires.")
    allocated: int = Field(description="Promised to orders being fulfilled.")
    available: int = Field(description="on_hand - reserved - allocated; never below 0.")
    updated_at: datetime | None = Field(description="null where the SKU never was here.")


class StockPage(BaseModel):
    items: list[StockRead]
    next_cursor: str | None = None


class AdjustmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    quantity: int
    reason: str
    reference: str | None
    actor: str | None
    created_at: datetime


class StockDetailRead(StockRead):
    adjustments: list[AdjustmentRead] = Field(description="The latest changes, newest first.")


# Counts and transfers have their own paths; these are the changes written by hand.
ManualReason = Literal["receipt", "sale", "return", "damage"]
ADDS = frozenset({"receipt", "return"})


class AdjustmentCreate(BaseModel):
    reason: ManualReason
    quantity: Delta = Field(
        description="Units added (receipt, return: positive) or taken away (sale, damage: "
        "negative)."
    )
    reference: Reference | None = Field(default=None, description="e.g. a delivery note.")

    @field_validator("quantity")
    @classmethod
    def signed_as_the_reason_says(cls, quantity: int, info: ValidationInfo) -> int:
        if quantity == 0:
            raise ValueError("a change of 0 changes nothing")
        reason = info.data.get("reason")
        if reason in ADDS and quantity < 0:
            raise ValueError(f"a {reason} adds units: the quantity is positive")
        if reason is not None and reason not in ADDS and quantity > 0:
            raise ValueError(f"a {reason} takes units away: the quantity is negative")
        return quantity


class CountCreate(BaseModel):
    counted: Count = Field(description="Units found on the shelf: on hand becomes this.")
    reference: Reference | None = None


class TransferCreate(BaseModel):
    sku: Sku
    from_location: LocationCode
    to_location: LocationCode
    quantity: Count = Field(gt=0)
    reference: Reference | None = Field(
        default=None, description="Default: a new transfer:<id>, on both adjustments."
    )


class TransferRead(BaseModel):
    sku: str
    quantity: int
    reference: str
    source: StockRead = Field(description="from_location after the transfer")
    destination: StockRead = Field(description="to_location after the transfer")


class LocationAvailability(BaseModel):
    location: str
    name: str
    kind: str
    offers_pickup: bool
    on_hand: int
    reserved: int
    allocated: int
    available: int


class AvailabilityRead(BaseModel):
    sku: str
    locations: list[LocationAvailability]
