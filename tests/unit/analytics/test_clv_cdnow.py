"""BG/NBD and Gamma-Gamma reproduce Fader, Hardie & Lee (2005) on CDNOW."""

import csv
import os

import numpy as np
import pytest

from omnikanal.analytics import clv
from tests.febrl import shared_data

CDNOW = shared_data() / "cdnow"
SUMMARY = CDNOW / "cdnow_customers_summary_with_transactions.csv"


@pytest.fixture(scope="module")
def summary() -> dict[str, np.ndarray]:
    if not SUMMARY.is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CDNOW data missing at {SUMMARY} (required under CI)")
        pytest.skip(f"CDNOW data not present at {SUMMARY} (set OMNIKANAL_SHARED_DATA)")
    with SUMMARY.open() as file:
        rows = list(csv.DictReader(file))
    return {key: np.array([float(r[key]) for r in rows]) for key in ("x", "t_x", "T", "zbar")}


def test_bgnbd_parameters_to_three_decimals(summary: dict[str, np.ndarray]) -> None:
    fitted = clv.fit_bgnbd(summary["x"], summary["t_x"], summary["T"])
    assert round(fitted.r, 3) == 0.243
    assert round(fitted.alpha, 3) == 4.414
    assert round(fitted.a, 3) == 0.793
    assert round(fitted.b, 3) == 2.426
    assert round(fitted.log_likelihood, 1) == -9582.4


def test_gamma_gamma_parameters(summary: dict[str, np.ndarray]) -> None:
    fitted = clv.fit_gamma_gamma(summary["x"], summary["zbar"])
    assert (round(fitted.p, 2), round(fitted.q, 2), round(fitted.gamma, 2)) == (6.25, 3.74, 15.45)


def test_expected_purchases_of_a_customer(summary: dict[str, np.ndarray]) -> None:
    """The paper's example: x 2, t_x 30.43, T 38.86 expects about 1.23 in 39 weeks."""
    fitted = clv.fit_bgnbd(summary["x"], summary["t_x"], summary["T"])
    one = clv.expected_purchases(fitted, 39, np.array([2.0]), np.array([30.43]), np.array([38.86]))
    assert one[0] == pytest.approx(1.226, abs=0.002)
