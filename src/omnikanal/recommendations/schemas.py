from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

ContextName = Literal["cart", "email", "store"]
# As the catalog and inventory spell them.
Sku = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,64}$")]
LocationCode = Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]{1,100}$")]

REASONS = (
    "bought_with: goes with reason_sku, which the person bought; "
    "viewed_with: goes with reason_sku, which they looked at; "
    "bought_before / viewed_before: they bought it (and people buy it again) or looked at it; "
    "goes_with_cart: goes with reason_sku in their cart; "
    "goes_with: chosen by the people who chose reason_sku; "
    "popular_at_store: a best seller at reason_location; popular: a best seller overall."
)


class SuggestionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    sku: str
    name: str
    score: float = Field(description="The model's score (0 for best sellers).")
    reason: str = Field(description=REASONS)
    reason_text: str = Field(description="The reason in words, for a page or an email.")
    reason_sku: str | None
    reason_location: str | None
    image_url: str | None


class RecommendationList(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    profile_id: UUID = Field(description="The live profile (a merged-away id leads to it).")
    model_version: int | None = Field(description="The model served; null before training.")
    personalised: bool = Field(
        description="False without consent for `personalisation`: best sellers only."
    )
    context: ContextName
    stock_location: str | None = Field(
        description="Where stock was checked: `location`, else the person's favourite "
        "store, else null (available at any location)."
    )
    items: list[SuggestionRead]


class RelatedList(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    sku: str
    model_version: int | None
    items: list[SuggestionRead]


class ModelRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    version: int
    status: str
    trained_at: datetime
    history_until: datetime | None
    people: int
    items: int
    interactions: int
    seconds: float
    params: dict[str, Any]
