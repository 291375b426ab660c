"""An experiment's results: per variant with intervals, each treatment against control
(Welch, CUPED, the always-valid interval, the Bayesian readout; clustered variance where
units hold several observations or stores were randomised), the sample-ratio check, the
guardrails, and the effect day by day."""

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy.orm import Session

from omnikanal.experiments import metrics, repository, stats
from omnikanal.experiments import service as experiments_service
from omnikanal.experiments.metrics import History, Observations, UnitRecord
from omnikanal.experiments.models import Experiment, Metric, Unit
from omnikanal.experiments.stats import Sample
from omnikanal.kit.time import utcnow

# Metrics that are shares (shown as percentages).
RATES = (Metric.CONVERSION, Metric.RETURN_RATE, Metric.CSAT)
# Metrics where higher is worse (a guardrail fails when it rises).
LOWER_IS_BETTER = (Metric.RETURN_RATE,)
MAX_TIMELINE_DAYS = 60
# The always-valid interval's mixture is fixed before the data (so it is valid at every
# look): tightest around this many units, valid at any.
SEQUENTIAL_TUNING_UNITS = 10_000


@dataclass(frozen=True)
class VariantResult:
    key: str
    weight: float
    units: int
    observations: int
    mean: float | None
    low: float | None
    high: float | None


@dataclass(frozen=True)
class EffectResult:
    """One treatment against control."""

    variant: str
    # Treatment minus control, in the metric's units (Welch, or CR1 when clustered).
    absolute: stats.Estimate
    # Treatment over control minus 1 (delta method).
    relative: stats.Estimate | None
    # The difference after CUPED (person metrics with a pre-period), else None.
    cuped: stats.Estimate | None
    cuped_variance_ratio: float | None
    # Valid however often it is looked at.
    sequential: stats.Estimate
    chance_to_beat_control: float
    expected_loss: float
    clustered: bool
    naive_se: float | None


@dataclass(frozen=True)
class MetricResult:
    metric: str
    rate: bool
    variants: list[VariantResult]
    effects: list[EffectResult]
    # Guardrails: whether any treatment is significantly worse than control.
    harmed: bool


@dataclass(frozen=True)
class DayPoint:
    day: int
    at: datetime
    variant: str
    estimate: float
    low: float
    high: float


@dataclass(frozen=True)
class Results:
    key: str
    name: str
    unit: str
    status: str
    started_at: datetime | None
    stopped_at: datetime | None
    window_days: int
    control: str
    primary: MetricResult
    guardrails: list[MetricResult]
    srm: stats.Srm
    srm_warning: bool
    timeline: list[DayPoint]
    computed_at: datetime


def _variant_rows(experiment: Experiment, seen: Observations) -> list[VariantResult]:
    found = []
    for variant in experiment.variants:
        values = np.asarray(seen.values.get(variant["key"], []), dtype=np.float64)
        units = len(set(seen.clusters.get(variant["key"], [])))
        sample = Sample.of(values)
        interval = stats.mean_interval(sample)
        low, high = interval if interval else (None, None)
        found.append(
            VariantResult(
                key=variant["key"],
                weight=float(variant["weight"]),
                units=units,
                observations=sample.n,
                mean=sample.mean if sample.n else None,
                low=low,
                high=high,
            )
        )
    return found


def _effects(
    experiment: Experiment, seen: Observations, planned_n: float | None
) -> list[EffectResult]:
    control = experiments_service.control_of(experiment)
    yc = np.asarray(seen.values.get(control, []), dtype=np.float64)
    found = []
    for variant in experiment.variants[1:]:
        key = variant["key"]
        yt = np.asarray(seen.values.get(key, []), dtype=np.float64)
        c, t = Sample.of(yc), Sample.of(yt)
        naive_se = None
        if seen.clustered:
            result = stats.clustered(yc, yt, seen.clusters[control], seen.clusters[key])
            comparison, naive_se = result.comparison, result.naive_se
            # The clustered standard error widens the sequential and Bayesian readouts too.
            inflation = (comparison.absolute.se / naive_se) ** 2 if naive_se else 1.0
            c = Sample(c.n, c.mean, c.variance * inflation)
            t = Sample(t.n, t.mean, t.variance * inflation)
        else:
            comparison = stats.welch(c, t)
        adjusted = ratio = None
        if seen.before is not None:
            cuped = stats.cuped([yc, yt], [seen.before[control], seen.before[key]])
            if cuped.theta != 0.0:
                if seen.clustered:
                    adjusted = stats.clustered(
                        cuped.adjusted[0],
                        cuped.adjusted[1],
                        seen.clusters[control],
                        seen.clusters[key],
                    ).comparison.absolute
                else:
                    adjusted = stats.welch(
                        Sample.of(cuped.adjusted[0]), Sample.of(cuped.adjusted[1])
                    ).absolute
                ratio = cuped.variance_ratio
        bayes = stats.bayesian(c, t)
        lower_better = experiment.metric in LOWER_IS_BETTER
        found.append(
            EffectResult(
                variant=key,
                absolute=comparison.absolute,
                relative=comparison.relative,
                cuped=adjusted,
                cuped_variance_ratio=ratio,
                sequential=stats.sequential(c, t, planned_n=planned_n),
                chance_to_beat_control=(
                    1 - bayes.chance_to_beat if lower_better else bayes.chance_to_beat
                ),
                expected_loss=bayes.loss_control if lower_better else bayes.loss_treatment,
                clustered=seen.clustered,
                naive_se=naive_se,
            )
        )
    return found


def _metric(
    experiment: Experiment,
    units: dict[str, UnitRecord],
    found: History,
    metric: str,
    planned_n: float | None,
) -> MetricResult:
    seen = metrics.observe(experiment, units, found, metric)
    effects = _effects(experiment, seen, planned_n)
    worse = [
        e
        for e in effects
        if e.absolute.significant
        and (e.absolute.estimate > 0 if metric in LOWER_IS_BETTER else e.absolute.estimate < 0)
    ]
    return MetricResult(
        metric=metric,
        rate=metric in RATES,
        variants=_variant_rows(experiment, seen),
        effects=effects,
        harmed=bool(worse),
    )


def _timeline(
    experiment: Experiment, units: dict[str, UnitRecord], found: History, now: datetime
) -> list[DayPoint]:
    """Each day since the start: the effect with the data known at its end, and its
    always-valid interval (what a daily look saw)."""
    start = experiment.started_at or min((u.exposed_at for u in units.values()), default=now)
    end = experiment.stopped_at or now
    days = min(int((end - start).total_seconds() // 86400) + 1, MAX_TIMELINE_DAYS)
    control = experiments_service.control_of(experiment)
    points = []
    for day in range(1, days + 1):
        until = min(start + timedelta(days=day), end)
        seen = metrics.observe(experiment, units, found, experiment.metric, until=until)
        c = Sample.of(seen.values.get(control, []))
        for variant in experiment.variants[1:]:
            t = Sample.of(seen.values.get(variant["key"], []))
            interval = stats.sequential(c, t, planned_n=SEQUENTIAL_TUNING_UNITS)
            if not np.isfinite(interval.low):
                continue
            points.append(
                DayPoint(day, until, variant["key"], interval.estimate, interval.low, interval.high)
            )
    return points


def results(session: Session, *, key: str) -> Results:
    experiment = experiments_service.get(session, key=key)
    exposures = repository.exposures(session, experiment.id)
    units, found = metrics.collect(session, experiment, exposures)
    now = utcnow()
    counts = {v["key"]: 0 for v in experiment.variants}
    for unit in units.values():
        if unit.variant in counts:
            counts[unit.variant] += 1
    srm = stats.srm(list(counts.values()), [float(v["weight"]) for v in experiment.variants])
    planned = float(SEQUENTIAL_TUNING_UNITS)
    guardrails = [
        _metric(experiment, units, found, metric, planned)
        for metric in experiment.guardrails
        if metric != experiment.metric
    ]
    return Results(
        key=experiment.key,
        name=experiment.name,
        unit=experiment.unit,
        status=experiment.status,
        started_at=experiment.started_at,
        stopped_at=experiment.stopped_at,
        window_days=experiment.window_days,
        control=experiments_service.control_of(experiment),
        primary=_metric(experiment, units, found, experiment.metric, planned),
        guardrails=guardrails,
        srm=srm,
        srm_warning=srm.mismatch,
        timeline=_timeline(experiment, units, found, now),
        computed_at=now,
    )


def store_metric_allowed(unit: str, metric: str) -> bool:
    return unit != Unit.STORE or metric in metrics.STORE_METRICS
