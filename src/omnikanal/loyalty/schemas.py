from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from omnikanal.kit.limits import INT32_MAX, Count, Delta
from omnikanal.kit.money import CurrencyCode, Money, StoredCurrencyCode

# Points for one whole currency unit: a ledger entry (32-bit) must hold any order's points.
PointsRate = Annotated[int, Field(strict=True, ge=0, le=1_000)]
# Days, as far as dates go (a window of 100 years is as good as for ever).
Days = Annotated[int, Field(strict=True, ge=1, le=36_500)]
# Points taken or given at once: at least one, as many as a ledger entry holds.
Points = Annotated[int, Field(strict=True, ge=1, le=INT32_MAX)]
# The adjustment's note is stored with " (by <admin's name>)", in 500 characters in all.
MAX_NOTE = 500 - len(" (by )") - 200


class Tier(BaseModel):
    name: str = Field(min_length=1, max_length=50)
    threshold: Count = Field(description="Points earned over the tier window to reach it.")


class ProgramRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str = Field(min_length=1, max_length=100)
    points_per_unit: dict[StoredCurrencyCode, PointsRate] = Field(max_length=200)
    point_value_minor: dict[StoredCurrencyCode, Count] = Field(max_length=200)
    tiers: list[Tier] = Field(max_length=20)
    tier_window_days: Days
    points_expire_after_days: Days | None = None


class ProgramUpdate(ProgramRead):
    points_per_unit: dict[CurrencyCode, PointsRate] = Field(max_length=200)
    point_value_minor: dict[CurrencyCode, Count] = Field(max_length=200)

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
    points: Points | None = None
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
    points: Delta = Field(description="Positive adds, negative removes.")
    note: str = Field(min_length=1, max_length=MAX_NOTE)

    @model_validator(mode="after")
    def not_zero(self) -> "AdjustmentCreate":
        if self.points == 0:
            raise ValueError("points must not be zero")
        return self


class RewardCreate(BaseModel):
    code: str = Field(min_length=1, max_length=50, pattern=r"^[A-Za-z0-9_-]+$")
    name: str = Field(min_length=1, max_length=200)
    points_cost: Points


class RewardRead(RewardCreate):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    active: bool
