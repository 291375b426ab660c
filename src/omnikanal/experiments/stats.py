"""The statistics of an A/B test, pure functions over numbers (no database, no domain).

- ``welch``: Welch's t-test of the difference in means (unequal variances), and the
  relative lift with its delta-method interval.
- ``cuped``: the metric adjusted by the same metric before exposure (Deng et al. 2013);
  the variance shrinks by about 1 - rho^2.
- ``srm``: the sample-ratio-mismatch chi-square test (p < 0.001 flags the results).
- ``sequential``: an always-valid confidence sequence (the normal mixture of Robbins,
  Howard et al. 2021, in its asymptotic form of Waudby-Smith et al. 2023): looking every
  day keeps its coverage.
- ``bayesian``: chance to beat control and expected loss (normal posterior, flat prior).
- ``clustered``: cluster-robust (CR1) variance of the difference, for store experiments.
- ``sample_size`` and ``power``: before launch (statsmodels' ``NormalIndPower``).

Every function takes plain numbers or numpy arrays; the experiment service feeds them.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats  # type: ignore[import-untyped]

ALPHA = 0.05
SRM_ALPHA = 0.001


@dataclass(frozen=True)
class Sample:
    """What a comparison needs of one variant: count, mean and sample variance."""

    n: int
    mean: float
    variance: float

    @classmethod
    def of(cls, values: ArrayLike) -> "Sample":
        data = np.asarray(values, dtype=np.float64)
        n = int(data.size)
        if n == 0:
            return cls(0, 0.0, 0.0)
        variance = float(data.var(ddof=1)) if n > 1 else 0.0
        return cls(n, float(data.mean()), variance)

    @property
    def se2(self) -> float:
        """The squared standard error of the mean."""
        return self.variance / self.n if self.n else math.inf


@dataclass(frozen=True)
class Estimate:
    estimate: float
    se: float
    low: float
    high: float
    p_value: float

    @property
    def significant(self) -> bool:
        return self.p_value < ALPHA


@dataclass(frozen=True)
class Comparison:
    """A treatment against control: the absolute difference (Welch) and the relative lift
    (delta method); ``relative`` is None when control's mean is zero."""

    absolute: Estimate
    relative: Estimate | None
    df: float


def _normal(estimate: float, se: float, alpha: float) -> Estimate:
    if not se > 0 or not math.isfinite(se):
        return Estimate(estimate, 0.0 if se == 0 else math.inf, estimate, estimate, 1.0)
    z = float(stats.norm.ppf(1 - alpha / 2))
    p = float(2 * stats.norm.sf(abs(estimate) / se))
    return Estimate(estimate, se, estimate - z * se, estimate + z * se, p)


def welch(control: Sample, treatment: Sample, *, alpha: float = ALPHA) -> Comparison:
    """Welch's t-test of treatment minus control, and the relative lift (treatment / control
    - 1) with the delta method's standard error (a normal interval)."""
    diff = treatment.mean - control.mean
    se2 = treatment.se2 + control.se2
    se = math.sqrt(se2) if math.isfinite(se2) else math.inf
    if control.n < 2 or treatment.n < 2 or not se > 0:
        absolute = Estimate(diff, se, -math.inf, math.inf, 1.0)
        if control.n >= 2 and treatment.n >= 2 and se == 0:
            absolute = Estimate(diff, 0.0, diff, diff, 1.0 if diff == 0 else 0.0)
        return Comparison(absolute, None, math.nan)
    # Welch-Satterthwaite degrees of freedom.
    a, b = treatment.se2, control.se2
    df = se2 * se2 / (a * a / (treatment.n - 1) + b * b / (control.n - 1))
    t_value = diff / se
    p = float(2 * stats.t.sf(abs(t_value), df))
    q = float(stats.t.ppf(1 - alpha / 2, df))
    absolute = Estimate(diff, se, diff - q * se, diff + q * se, p)
    relative = None
    if control.mean != 0:
        lift = treatment.mean / control.mean - 1
        # Var(mt/mc) ~ Var(mt)/mc^2 + mt^2 Var(mc)/mc^4 (independent groups).
        var = a / control.mean**2 + treatment.mean**2 * b / control.mean**4
        relative = _normal(lift, math.sqrt(var), alpha)
    return Comparison(absolute, relative, df)


def mean_interval(sample: Sample, *, alpha: float = ALPHA) -> tuple[float, float] | None:
    """The t interval of one variant's mean; None below two observations."""
    if sample.n < 2:
        return None
    half = float(stats.t.ppf(1 - alpha / 2, sample.n - 1)) * math.sqrt(sample.se2)
    return sample.mean - half, sample.mean + half


# -- CUPED --


@dataclass(frozen=True)
class Cuped:
    theta: float
    # Correlation of the metric with its value before exposure (pooled).
    rho: float
    # Variance of the adjusted metric over the variance of the raw one (~ 1 - rho^2).
    variance_ratio: float
    adjusted: list[NDArray[np.float64]]


def cuped(metrics: Sequence[ArrayLike], covariates: Sequence[ArrayLike]) -> Cuped:
    """Adjust each group's metric ``y`` to ``y - theta (x - mean(x))`` with theta =
    cov(y, x) / var(x) over all groups pooled (x: the same metric before exposure). The
    difference in means stays unbiased; its variance shrinks by about 1 - rho^2."""
    ys = [np.asarray(y, dtype=np.float64) for y in metrics]
    xs = [np.asarray(x, dtype=np.float64) for x in covariates]
    y_all, x_all = np.concatenate(ys), np.concatenate(xs)
    if y_all.size < 3 or float(x_all.var()) == 0.0 or float(y_all.var()) == 0.0:
        return Cuped(0.0, 0.0, 1.0, ys)
    cov = np.cov(y_all, x_all, ddof=1)
    theta = float(cov[0, 1] / cov[1, 1])
    rho = float(cov[0, 1] / math.sqrt(cov[0, 0] * cov[1, 1]))
    centre = float(x_all.mean())
    adjusted = [y - theta * (x - centre) for y, x in zip(ys, xs, strict=True)]
    ratio = float(np.concatenate(adjusted).var(ddof=1) / cov[0, 0])
    return Cuped(theta, rho, ratio, adjusted)


# -- sample ratio mismatch --


@dataclass(frozen=True)
class Srm:
    observed: list[int]
    expected: list[float]
    chi2: float
    p_value: float

    @property
    def mismatch(self) -> bool:
        return self.p_value < SRM_ALPHA


def srm(observed: Sequence[int], weights: Sequence[float]) -> Srm:
    """Chi-square goodness of fit of the units per variant against the planned weights."""
    total = sum(observed)
    weight_sum = float(sum(weights))
    expected = [total * w / weight_sum for w in weights]
    if total == 0 or len(observed) < 2:
        return Srm(list(observed), expected, 0.0, 1.0)
    chi2, p = stats.chisquare(np.asarray(observed, dtype=np.float64), np.asarray(expected))
    return Srm(list(observed), expected, float(chi2), float(p))


# -- always-valid (sequential) interval --


def mixture_rho2(planned_n: float, alpha: float = ALPHA) -> float:
    """The normal mixture's tuning that makes the sequence tightest near ``planned_n``
    observations (Waudby-Smith et al. 2023, eq. for rho)."""
    log_term = -2 * math.log(alpha)
    return (log_term + math.log(log_term + 1)) / max(planned_n, 1.0)


def sequential(
    control: Sample, treatment: Sample, *, planned_n: float | None = None, alpha: float = ALPHA
) -> Estimate:
    """An always-valid interval for treatment minus control: with probability 1 - alpha it
    holds the true difference at every look at once, so checking daily (and stopping when
    it excludes zero) is safe. ``p_value`` is the always-valid p-value (the smallest alpha
    whose sequence excludes zero)."""
    diff = treatment.mean - control.mean
    n = control.n + treatment.n
    se2 = treatment.se2 + control.se2
    if control.n < 2 or treatment.n < 2 or not (se2 > 0 and math.isfinite(se2)):
        return Estimate(diff, math.inf, -math.inf, math.inf, 1.0)
    # Per-observation variance of the difference's estimator: se^2 = sigma^2 / n.
    sigma2 = se2 * n
    # Tuned at the usual 5 % whatever alpha is asked, so one sequence answers every alpha.
    rho2 = mixture_rho2(planned_n or n)
    scale = (n * rho2 + 1) / (n * n * rho2)
    half = math.sqrt(sigma2 * 2 * scale * math.log(math.sqrt(n * rho2 + 1) / alpha))
    # Smallest alpha whose half-width reaches |diff|: solve for alpha.
    exponent = diff * diff / (2 * sigma2 * scale)
    p = min(1.0, math.sqrt(n * rho2 + 1) * math.exp(-exponent))
    return Estimate(diff, math.sqrt(se2), diff - half, diff + half, p)


# -- Bayesian readout --


@dataclass(frozen=True)
class Bayesian:
    # P(treatment's mean > control's).
    chance_to_beat: float
    # Expected loss (in the metric's units) of shipping the treatment / keeping control.
    loss_treatment: float
    loss_control: float


def bayesian(control: Sample, treatment: Sample) -> Bayesian:
    """Normal posteriors of both means (flat prior, large-sample): the difference is
    N(diff, se^2); chance to beat control and the expected loss of each choice."""
    diff = treatment.mean - control.mean
    se2 = treatment.se2 + control.se2
    if control.n < 2 or treatment.n < 2 or not (se2 > 0 and math.isfinite(se2)):
        return Bayesian(0.5 if diff == 0 else float(diff > 0), 0.0, 0.0)
    s = math.sqrt(se2)
    z = diff / s
    pdf, cdf = float(stats.norm.pdf(z)), float(stats.norm.cdf(z))
    # E[max(-D, 0)] and E[max(D, 0)] for D ~ N(diff, s^2).
    loss_treatment = s * pdf - diff * (1 - cdf)
    loss_control = s * pdf + diff * cdf
    return Bayesian(cdf, max(loss_treatment, 0.0), max(loss_control, 0.0))


# -- cluster-robust variance (store experiments) --


@dataclass(frozen=True)
class Clustered:
    """The difference in means with its cluster-robust (CR1) and naive standard errors."""

    comparison: Comparison
    naive_se: float
    clusters: int


def clustered(
    control: ArrayLike,
    treatment: ArrayLike,
    control_clusters: ArrayLike,
    treatment_clusters: ArrayLike,
    *,
    alpha: float = ALPHA,
) -> Clustered:
    """OLS of y on a treatment indicator with CR1 cluster-robust variance (as statsmodels'
    ``cov_type="cluster"``): units within a store are not independent, so the naive
    standard error is too small. The interval uses t with G - 1 degrees of freedom."""
    yc = np.asarray(control, dtype=np.float64)
    yt = np.asarray(treatment, dtype=np.float64)
    y = np.concatenate([yc, yt])
    d = np.concatenate([np.zeros(yc.size), np.ones(yt.size)])
    groups = np.concatenate(
        [np.asarray(control_clusters).astype(str), np.asarray(treatment_clusters).astype(str)]
    )
    naive = welch(Sample.of(yc), Sample.of(yt), alpha=alpha)
    _, codes = np.unique(groups, return_inverse=True)
    g = int(codes.max()) + 1 if codes.size else 0
    n = y.size
    if g < 2 or yc.size < 2 or yt.size < 2:
        return Clustered(naive, naive.absolute.se, g)
    x = np.column_stack([np.ones(n), d])
    bread = np.linalg.inv(x.T @ x)
    beta = bread @ (x.T @ y)
    residuals = y - x @ beta
    scores = np.zeros((g, 2))
    np.add.at(scores, codes, x * residuals[:, None])
    meat = scores.T @ scores
    correction = g / (g - 1) * (n - 1) / (n - 2)
    variance = correction * bread @ meat @ bread
    diff = float(beta[1])
    se = math.sqrt(max(float(variance[1, 1]), 0.0))
    df = float(g - 1)
    if se > 0:
        p = float(2 * stats.t.sf(abs(diff) / se, df))
        q = float(stats.t.ppf(1 - alpha / 2, df))
        absolute = Estimate(diff, se, diff - q * se, diff + q * se, p)
    else:
        absolute = Estimate(diff, 0.0, diff, diff, 1.0)
    relative = None
    mc, mt = float(yc.mean()), float(yt.mean())
    if mc != 0:
        # Delta method on (mc, mt) with the clustered covariance of the two means.
        cov_cc = variance[0, 0]
        cov_tt = variance[0, 0] + 2 * variance[0, 1] + variance[1, 1]
        cov_ct = variance[0, 0] + variance[0, 1]
        grad = np.array([-mt / mc**2, 1 / mc])
        cov = np.array([[cov_cc, cov_ct], [cov_ct, cov_tt]])
        relative = _normal(mt / mc - 1, math.sqrt(max(float(grad @ cov @ grad), 0.0)), alpha)
    return Clustered(Comparison(absolute, relative, df), naive.absolute.se, g)


# -- planning --


@dataclass(frozen=True)
class Plan:
    """How many units each variant needs to find ``effect`` (absolute) with ``power``."""

    per_variant: int
    total: int
    effect: float
    sd: float
    alpha: float
    power: float


def sample_size(
    *, effect: float, sd: float, alpha: float = ALPHA, power: float = 0.8, variants: int = 2
) -> Plan:
    """Units per variant for a two-sided test of a difference ``effect`` between two
    means with standard deviation ``sd`` per unit (for a conversion rate p, sd =
    sqrt(p (1 - p)))."""
    from statsmodels.stats.power import NormalIndPower

    if effect == 0 or sd <= 0:
        raise ValueError("the effect must be non-zero and the standard deviation positive")
    n = NormalIndPower().solve_power(
        effect_size=abs(effect) / sd, alpha=alpha, power=power, ratio=1.0
    )
    per = math.ceil(float(n))
    return Plan(per, per * variants, effect, sd, alpha, power)


def power(*, effect: float, sd: float, per_variant: int, alpha: float = ALPHA) -> float:
    """The chance that a two-sided test finds ``effect`` with ``per_variant`` units each."""
    from statsmodels.stats.power import NormalIndPower

    if per_variant < 2 or sd <= 0:
        return 0.0
    return float(
        NormalIndPower().power(
            effect_size=abs(effect) / sd, nobs1=per_variant, alpha=alpha, ratio=1.0
        )
    )


def binomial_interval(successes: int, trials: int, *, level: float = 0.99) -> tuple[float, float]:
    """Clopper-Pearson interval of a proportion (the simulations' yardstick)."""
    result = stats.binomtest(successes, trials).proportion_ci(confidence_level=level)
    return float(result.low), float(result.high)
