"""Customer value: BG/NBD (Fader, Hardie & Lee 2005) for how often and how long people
keep buying, Gamma-Gamma for how much they spend, each fitted by maximum likelihood
(scipy). On CDNOW this gives r 0.243, alpha 4.414, a 0.793, b 2.426.

Inputs are per person: ``x`` repeat purchases, ``t_x`` the time of the last one and ``T``
the time since the first purchase (both from the first purchase, in one unit: weeks
here), and ``m`` the mean value of the repeat purchases.
"""

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, special  # type: ignore[import-untyped]

Array = NDArray[np.float64]


@dataclass(frozen=True)
class BgNbd:
    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float


@dataclass(frozen=True)
class GammaGamma:
    p: float
    q: float
    gamma: float
    log_likelihood: float


def _bgnbd_ll(params: Array, x: Array, t_x: Array, big_t: Array) -> float:
    r, alpha, a, b = np.exp(params)
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    beta_ab = special.betaln(a, b)
    a2 = special.betaln(a, b + x) - beta_ab - (r + x) * np.log(alpha + big_t)
    repeat = x > 0
    a3 = np.full_like(x, -np.inf)
    a3[repeat] = (
        special.betaln(a + 1, b + x[repeat] - 1)
        - beta_ab
        - (r + x[repeat]) * np.log(alpha + t_x[repeat])
    )
    return float(np.sum(a1 + np.logaddexp(a2, a3)))


def fit_bgnbd(x: Array, t_x: Array, big_t: Array) -> BgNbd:
    """Maximum-likelihood BG/NBD parameters (searched on the log scale, so positive)."""
    x, t_x, big_t = (np.asarray(v, dtype=np.float64) for v in (x, t_x, big_t))
    found = optimize.minimize(
        lambda p: -_bgnbd_ll(p, x, t_x, big_t),
        x0=np.zeros(4),
        method="Nelder-Mead",
        options={"xatol": 1e-9, "fatol": 1e-10, "maxiter": 20_000, "maxfev": 40_000},
    )
    r, alpha, a, b = np.exp(found.x)
    return BgNbd(float(r), float(alpha), float(a), float(b), -float(found.fun))


def p_alive(m: BgNbd, x: Array, t_x: Array, big_t: Array) -> Array:
    """The chance each person is still a customer at T."""
    x = np.asarray(x, dtype=np.float64)
    odds = np.where(
        x > 0,
        m.a / np.maximum(m.b + x - 1, 1e-12) * ((m.alpha + big_t) / (m.alpha + t_x)) ** (m.r + x),
        0.0,
    )
    return np.asarray(1.0 / (1.0 + odds), dtype=np.float64)


def expected_purchases(m: BgNbd, horizon: float, x: Array, t_x: Array, big_t: Array) -> Array:
    """Expected purchases in the next ``horizon`` time units, given each person's history."""
    x = np.asarray(x, dtype=np.float64)
    z = horizon / (m.alpha + big_t + horizon)
    hyp = special.hyp2f1(m.r + x, m.b + x, m.a + m.b + x - 1, z)
    head = (m.a + m.b + x - 1) / (m.a - 1)
    body = 1 - ((m.alpha + big_t) / (m.alpha + big_t + horizon)) ** (m.r + x) * hyp
    return np.asarray(head * body * p_alive(m, x, t_x, big_t), dtype=np.float64)


def _gg_ll(params: Array, x: Array, mean: Array) -> float:
    p, q, gamma = np.exp(params)
    px = p * x
    ll = (
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * np.log(gamma)
        + (px - 1) * np.log(mean)
        + px * np.log(x)
        - (px + q) * np.log(gamma + mean * x)
    )
    return float(np.sum(ll))


def fit_gamma_gamma(x: Array, mean: Array) -> GammaGamma:
    """Gamma-Gamma parameters from people with repeat purchases (x > 0, mean > 0)."""
    x, mean = np.asarray(x, dtype=np.float64), np.asarray(mean, dtype=np.float64)
    keep = (x > 0) & (mean > 0)
    x, mean = x[keep], mean[keep]
    found = optimize.minimize(
        lambda p: -_gg_ll(p, x, mean),
        x0=np.zeros(3),
        method="Nelder-Mead",
        options={"xatol": 1e-9, "fatol": 1e-10, "maxiter": 20_000, "maxfev": 40_000},
    )
    p, q, gamma = np.exp(found.x)
    return GammaGamma(float(p), float(q), float(gamma), -float(found.fun))


def expected_spend(m: GammaGamma, x: Array, mean: Array) -> Array:
    """Expected value of one future purchase per person (the population mean for x = 0)."""
    x, mean = np.asarray(x, dtype=np.float64), np.asarray(mean, dtype=np.float64)
    population = m.p * m.gamma / (m.q - 1)
    weighted = m.p * (m.gamma + x * mean) / np.maximum(m.p * x + m.q - 1, 1e-12)
    return np.asarray(np.where(x > 0, weighted, population), dtype=np.float64)
