"""What the analytics endpoints take (the reports themselves are the dataclasses of the
analysis modules, returned as they are)."""

from typing import Literal, Self
from uuid import UUID

from pydantic import BaseModel, Field, model_validator

from omnikanal.analytics.funnels import ChannelMode, Step


class StepCreate(BaseModel):
    """A touch: a track event by name, or an order the hub took (a till purchase is
    ``{"kind": "order", "channels": ["pos"]}``)."""

    kind: Literal["event", "order"] = "event"
    event: str | None = Field(default=None, min_length=1, max_length=200)
    channels: list[str] = Field(default_factory=list, max_length=10)
    # Property equals value (``{"sku": "COAT-38"}``); ``location`` is the touch's store.
    where: dict[str, str] = Field(default_factory=dict, max_length=10)
    # Seconds after the step before (ignored on the first step); none: no limit.
    within: int | None = Field(default=None, ge=1, le=10 * 365 * 86400)

    @model_validator(mode="after")
    def _named(self) -> Self:
        if self.kind == "event" and self.event is None:
            raise ValueError("an event step needs its event name")
        return self

    def step(self) -> Step:
        return Step(
            event=self.event,
            kind=self.kind,
            channels=tuple(self.channels),
            where=dict(self.where),
            within=self.within,
        )


class FunnelCreate(BaseModel):
    steps: list[StepCreate] = Field(min_length=1, max_length=10)
    mode: ChannelMode = ChannelMode.ANY
    limit: int = Field(default=20, ge=1, le=500)


class StalledAudienceCreate(FunnelCreate):
    """A funnel, and the name of the audience its stalled people are saved as."""

    name: str = Field(min_length=1, max_length=200)


class StalledAudience(BaseModel):
    """The audience (a fixed list, in marketing) of the people the funnel lost at ``step``
    (its largest drop); a campaign reaches them through ``audience_id``."""

    audience_id: UUID | None
    name: str
    step: int | None
    people: int
