from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


class IdentifierRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    type: str
    value: str
    added_at: datetime


class ChannelSeen(BaseModel):
    channel: str
    first_seen: datetime
    last_seen: datetime
    events: int


class ProfileRead(BaseModel):
    id: UUID
    identifiers: list[IdentifierRead]
    traits: dict[str, Any]
    computed_traits: dict[str, Any] = Field(
        description="Derived from the person's history: favourite store and products, usual "
        "order time, preferred channel."
    )
    channels: list[ChannelSeen] = Field(description="Every channel the person was seen on.")
    first_seen: datetime | None
    last_seen: datetime | None
    created_at: datetime
    merged_ids: list[UUID] = Field(description="Profiles merged into this one; they answer here.")


class ProfileList(BaseModel):
    items: list[ProfileRead]


class MergeLogRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    action: str = Field(description="merged, device_moved, merge_refused or unmerged.")
    profile_id: UUID
    other_profile_id: UUID
    rule: str = Field(description="Why, in words.")
    linking: list[dict[str, str]] = Field(description="The identifiers that linked the two.")
    message_id: str | None
    channel: str | None
    actor: str | None
    created_at: datetime
    unmerged_at: datetime | None


class DuplicatePerson(BaseModel):
    id: UUID
    name: str | None
    email: str | None
    phone: str | None
    city: str | None


class DuplicateSuggestionRead(BaseModel):
    id: UUID
    profile: DuplicatePerson
    other_profile: DuplicatePerson
    probability: float = Field(description="How likely the two are one person, 0 to 1.")
    match_weight: float = Field(description="Log2 of the Bayes factor of the evidence.")
    agreed: dict[str, str] = Field(
        description="The fields that agreed and how: exact, or fuzzy (a typo, a nickname "
        "spelled another way, an abbreviated street, first and last name swapped)."
    )
    status: str = Field(description="open, accepted or rejected.")
    decided_by: str | None
    decided_at: datetime | None
    merge_id: UUID | None = Field(description="The merge an accepted suggestion made.")
    computed_at: datetime


class DuplicateSuggestionPage(BaseModel):
    items: list[DuplicateSuggestionRead]
    next_cursor: str | None = None


class DuplicatesComputed(BaseModel):
    people: int = Field(description="Live profiles compared.")
    found: int = Field(description="Pairs at or above the threshold.")
    added: int = Field(description="New open suggestions.")
    updated: int = Field(description="Open suggestions scored again.")
    dropped: int = Field(description="Open suggestions no longer found (merged or changed).")
