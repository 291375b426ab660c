from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from omnikanal.kit.money import CurrencyCode, Money


class Tier(BaseModel):
    name: str = Field(min_length=1, max_length=50)
    threshold: int = Field(ge=0, description="Points earned over the tier window to reach it.")


class ProgramRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    points_per_unit: dict[CurrencyCode, Annotated[int, Field(ge=0)]]
    point_value_minor: dict[CurrencyCode, Annotated[int, Field(ge=0)]]
    tiers: list[Tier]
    tier_window_days: int = Field(ge=1)
    points_expire_after_days: int | None = Field(default=None, ge=1)


class ProgramUpdate(ProgramRead):
    @model_validator(mode="after")
    def tiers_start_at_zero(self) -> "ProgramUpdate":
        thresholds = [tier.threshold for tier in self.tiers]
        if not thresholds or thresholds[0] != 0 or thresholds != sorted(set(thresholds)):
            raise ValueError("tiers must start at threshold 0 and rise strictly")
        return self


class MemberRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    profile_id: UUID
    card_number: str
    joined_at: datetime
    joined_channel: str | None


class JoinRequest(BaseModel):
    channel: str | None = Field(default=None, max_length=20)


class LedgerEntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    points: int
    reason: str
    reference: str
    channel: str | None
    location: str | None
    note: str
    expires_at: datetime | None
    created_at: datetime


class TierStatus(BaseModel):
    name: str
    earned_in_window: int
    next_tier: str | None
    points_to_next: int | None


class LoyaltyAccount(BaseModel):
    profile_id: UUID
    member: MemberRead | None
    balance: int
    tier: TierStatus
    ledger: list[LedgerEntryRead]
    next_cursor: str | None = None


class RedemptionCreate(BaseModel):
    points: int | None = Field(default=None, gt=0)
    reward_code: str | None = Field(default=None, max_length=50)
    reference: str | None = Field(
        default=None, max_length=150, description="Your own id for it, e.g. a till receipt."
    )
    channel: str | None = Field(default=None, max_length=20)
    location: str | None = Field(default=None, max_length=100)

    @model_validator(mode="after")
    def points_or_reward(self) -> "RedemptionCreate":
        if (self.points is None) == (self.reward_code is None):
            raise ValueError("give either points or reward_code")
        return self


class RedemptionRead(BaseModel):
    entry: LedgerEntryRead
    balance: int
    value: Money | None = Field(description="What the points are worth as a tender, if cash.")


class AdjustmentCreate(BaseModel):
    points: int = Field(description="Positive adds, negative removes.")
    note: str = Field(min_length=1, max_length=500)

    @model_validator(mode="after")
    def not_zero(self) -> "AdjustmentCreate":
        if self.points == 0:
            raise ValueError("points must not be zero")
        return self


class RewardCreate(BaseModel):
    code: str = Field(min_length=1, max_length=50, pattern=r"^[A-Za-z0-9_-]+$")
    name: str = Field(min_length=1, max_length=200)
    points_cost: int = Field(gt=0)


class RewardRead(RewardCreate):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    active: bool
