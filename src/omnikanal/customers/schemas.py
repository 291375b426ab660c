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
