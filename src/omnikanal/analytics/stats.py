"""Intervals for rates and means (95 %)."""

import math
from dataclasses import dataclass

Z95 = 1.959963984540054


@dataclass(frozen=True)
class Interval:
    low: float
    high: float


def wilson(successes: int, trials: int, z: float = Z95) -> Interval | None:
    """Wilson score interval of a proportion; None when there were no trials."""
    if trials <= 0:
        return None
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return Interval(low=max(0.0, centre - half), high=min(1.0, centre + half))


def mean_interval(mean: float | None, sd: float | None, n: int, z: float = Z95) -> Interval | None:
    """Normal-approximation interval of a mean; None below two observations."""
    if mean is None or sd is None or n < 2:
        return None
    half = z * sd / math.sqrt(n)
    return Interval(low=mean - half, high=mean + half)


def rate(successes: int, trials: int) -> float | None:
    return successes / trials if trials else None
