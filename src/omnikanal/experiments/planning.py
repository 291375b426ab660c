"""Planning an A/B test before launch: the units each variant needs to find an effect.

Apart from the service: SciPy's statistics take about a second to import, and only planning
and results need them.
"""

from dataclasses import dataclass

from omnikanal.errors import RuleViolation
from omnikanal.experiments import stats
from omnikanal.experiments.service import ExperimentErrorCode

# Past a billion units a variant there is no test to plan (an effect too small to find).
MAX_PLANNED_UNITS = 10**9


@dataclass(frozen=True)
class PlanAnswer:
    plan: stats.Plan
    days: int | None


def plan(
    *,
    baseline_rate: float | None,
    baseline_mean: float | None,
    sd: float | None,
    minimum_effect: float,
    alpha: float,
    power: float,
    variants: int,
    daily_units: int | None,
) -> PlanAnswer:
    """Units needed before launch: a relative ``minimum_effect`` on a rate or a mean."""
    if baseline_rate is not None:
        effect = baseline_rate * minimum_effect
        changed = baseline_rate + effect
        if changed >= 1:
            raise RuleViolation(
                ExperimentErrorCode.UNPLANNABLE,
                "The rate with the effect would be 100 % or more.",
                errors=[{"field": "body.minimum_effect", "message": "past a rate of 1"}],
            )
        # The spread of both variants' rates (each has its own p(1 - p)).
        spread = ((baseline_rate * (1 - baseline_rate) + changed * (1 - changed)) / 2) ** 0.5
    else:
        assert baseline_mean is not None
        assert sd is not None
        effect, spread = baseline_mean * minimum_effect, sd
    if not (effect > 0 and spread > 0) or (4 * spread / effect) ** 2 > MAX_PLANNED_UNITS:
        raise RuleViolation(
            ExperimentErrorCode.UNPLANNABLE,
            "The effect is too small against the spread to find with any sample.",
            errors=[{"field": "body.minimum_effect", "message": "too small to plan for"}],
        )
    found = stats.sample_size(effect=effect, sd=spread, alpha=alpha, power=power, variants=variants)
    days = -(-found.total // daily_units) if daily_units else None
    return PlanAnswer(found, days)
