"""Reading an amount from an import's cell: what a retailer's files hold, and what is not
an amount."""

import pytest

from omnikanal.imports import values
from omnikanal.imports.values import BadValue


@pytest.mark.parametrize(
    ("cell", "currency", "minor"),
    [
        ("499.00", "SEK", 49_900),
        ("499,00", "SEK", 49_900),
        ("1 999,50", "SEK", 199_950),
        ("1\u00a0999.5", "EUR", 199_950),
        (" 12 ", "SEK", 1_200),
        ("+3.", "SEK", 300),
        (".5", "SEK", 50),
        ("199", "JPY", 199),
        ("1.250", "KWD", 1_250),
    ],
)
def test_amounts_in_the_major_unit_become_minor_units(cell: str, currency: str, minor: int) -> None:
    assert values.minor_units(cell, currency) == minor


@pytest.mark.parametrize(
    ("cell", "currency", "reason"),
    [
        ("1e3", "SEK", "not a decimal amount"),
        ("NaN", "SEK", "not a decimal amount"),
        ("Infinity", "SEK", "not a decimal amount"),
        ("0x10", "SEK", "not a decimal amount"),
        ("12 SEK", "SEK", "not a decimal amount"),
        ("1.999,50", "SEK", "not a decimal amount"),
        ("-5", "SEK", "not an amount of 0 or more"),
        ("1.999", "SEK", "has more than 2 decimals for its currency"),
        ("1.5", "JPY", "has more than 0 decimals for its currency"),
        ("99999999999", "SEK", "too large"),
    ],
)
def test_what_is_not_an_amount_is_refused_with_why(cell: str, currency: str, reason: str) -> None:
    with pytest.raises(BadValue) as refused:
        values.minor_units(cell, currency)
    assert str(refused.value) == reason
