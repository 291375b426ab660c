from datetime import datetime
from typing import Annotated, Literal, Self
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from omnikanal.experiments.models import Metric

Key = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,99}$")]
MetricName = Literal["conversion", "revenue", "orders", "aov", "return_rate", "csat"]
TargetName = Annotated[
    str, Field(pattern=r"^(abandoned_cart|campaign:[0-9a-f-]{36})$", max_length=100)
]


class VariantCreate(BaseModel):
    """A variant and its share of units; when the experiment varies a message, what this
    variant's message says (``subject``, ``offer``) and the promotion it offers."""

    model_config = ConfigDict(extra="forbid")

    key: Key
    weight: float = Field(default=1.0, gt=0, le=1_000_000)
    subject: str | None = Field(default=None, min_length=1, max_length=300)
    offer: str | None = Field(default=None, min_length=1, max_length=500)
    promotion: str | None = Field(default=None, min_length=1, max_length=64)
    # A campaign sent on several channels reaches this variant's people on this one only.
    channel: Literal["email", "sms", "push"] | None = None


class ExperimentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: Key
    name: str = Field(min_length=1, max_length=200)
    unit: Literal["person", "store"] = "person"
    # The first is control.
    variants: list[VariantCreate] = Field(min_length=2, max_length=10)
    audience_id: UUID | None = None
    metric: MetricName = "conversion"
    guardrails: list[MetricName] = Field(default_factory=list, max_length=6)
    window_days: int = Field(default=14, ge=1, le=365)
    # A message the hub sends that the variants change: ``abandoned_cart`` (the reminder)
    # or ``campaign:<id>``.
    target: TargetName | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        keys = [v.key for v in self.variants]
        if len(set(keys)) != len(keys):
            raise ValueError("each variant needs its own key")
        if self.unit == "store":
            allowed = (Metric.REVENUE, Metric.ORDERS, Metric.AOV, Metric.RETURN_RATE)
            for name in (self.metric, *self.guardrails):
                if name not in allowed:
                    raise ValueError(
                        f"a store experiment measures {', '.join(allowed)}; not {name}"
                    )
            if self.audience_id is not None or self.target is not None:
                raise ValueError("a store experiment has no audience and varies no message")
        return self


class VariantRead(BaseModel):
    key: str
    weight: float
    subject: str | None = None
    offer: str | None = None
    promotion: str | None = None
    channel: str | None = None


class ExperimentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    key: str
    name: str
    unit: str
    variants: list[VariantRead]
    audience_id: UUID | None
    metric: str
    guardrails: list[str]
    window_days: int
    target: str | None
    status: str
    created_at: datetime
    started_at: datetime | None
    stopped_at: datetime | None


class ExperimentList(BaseModel):
    experiments: list[ExperimentRead]


class AssignmentRead(BaseModel):
    experiment: str
    variant: str
    in_experiment: bool
    unit: str
    first_exposure: bool
    reason: str | None


class PlanCreate(BaseModel):
    """A conversion rate (``baseline_rate``) or a mean and its standard deviation, and
    the smallest relative change worth finding."""

    model_config = ConfigDict(extra="forbid")

    baseline_rate: float | None = Field(default=None, ge=1e-6, le=1 - 1e-6)
    baseline_mean: float | None = Field(default=None, ge=1e-6, le=1e12)
    sd: float | None = Field(default=None, ge=1e-6, le=1e12)
    minimum_effect: float = Field(ge=1e-4, le=10, description="Relative: 0.05 is +5 %.")
    alpha: float = Field(default=0.05, gt=0, lt=0.5)
    power: float = Field(default=0.8, ge=0.5, lt=1)
    variants: int = Field(default=2, ge=2, le=10)
    daily_units: int | None = Field(default=None, ge=1, le=10**9)

    @model_validator(mode="after")
    def _one_baseline(self) -> Self:
        if (self.baseline_rate is None) == (self.baseline_mean is None or self.sd is None):
            raise ValueError("give baseline_rate, or baseline_mean and sd")
        return self


class PlanRead(BaseModel):
    per_variant: int
    total: int
    absolute_effect: float
    sd: float
    alpha: float
    power: float
    # At ``daily_units`` new units a day.
    days: int | None


class EstimateRead(BaseModel):
    """An estimate with its 95 % interval and p-value; null where the data cannot say yet
    (fewer than two observations, no variance)."""

    estimate: float | None
    se: float | None
    low: float | None
    high: float | None
    p_value: float | None


class VariantResultRead(BaseModel):
    key: str
    weight: float
    units: int
    observations: int
    mean: float | None
    low: float | None
    high: float | None


class EffectRead(BaseModel):
    variant: str
    absolute: EstimateRead
    relative: EstimateRead | None
    cuped: EstimateRead | None
    cuped_variance_ratio: float | None
    sequential: EstimateRead
    chance_to_beat_control: float | None
    expected_loss: float | None
    clustered: bool
    naive_se: float | None


class MetricResultRead(BaseModel):
    metric: str
    rate: bool
    variants: list[VariantResultRead]
    effects: list[EffectRead]
    harmed: bool


class SrmRead(BaseModel):
    observed: list[int]
    expected: list[float]
    chi2: float | None
    p_value: float | None


class DayPointRead(BaseModel):
    day: int
    at: datetime
    variant: str
    estimate: float | None
    low: float | None
    high: float | None


class ResultsRead(BaseModel):
    """Per variant with intervals; each treatment against control (``absolute``: Welch, or
    cluster-robust for stores and order-level metrics; ``relative``: delta method;
    ``cuped``; ``sequential``: always valid, safe to look at daily; the Bayesian chance to
    beat control and expected loss); the sample-ratio check (``srm_warning`` when its
    p < 0.001: the split is broken and the results should not be trusted); the
    guardrails; and the effect day by day."""

    key: str
    name: str
    unit: str
    status: str
    started_at: datetime | None
    stopped_at: datetime | None
    window_days: int
    control: str
    primary: MetricResultRead
    guardrails: list[MetricResultRead]
    srm: SrmRead
    srm_warning: bool
    timeline: list[DayPointRead]
    computed_at: datetime
