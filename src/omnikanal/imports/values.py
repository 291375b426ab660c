"""Reading one cell: the text of a file into the value the hub stores, or why it cannot be.

Each parser raises ``BadValue`` with a reason that never quotes the value (it may be
personal data, and the reason goes into the error report)."""

import functools
import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from omnikanal.kit.countries import COUNTRIES
from omnikanal.kit.limits import INT32_MAX
from omnikanal.kit.money import CURRENCIES


class BadValue(ValueError):
    """A cell that cannot be read; ``str()`` is the reason, without the value."""


TRUE = frozenset({"true", "yes", "y", "1", "ja", "subscribed", "x"})
FALSE = frozenset({"false", "no", "n", "0", "nej", "unsubscribed", "not_subscribed", ""})

# ISO 4217 currencies whose minor unit is not a hundredth.
MINOR_DIGITS = {
    **dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG"), 0),
    **dict.fromkeys(("RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    **dict.fromkeys(("CLF", "UYW"), 4),
}
AMOUNT = re.compile(r"^\+?(\d+(\.\d*)?|\.\d+)$")


def text(value: str, *, max_length: int) -> str:
    cleaned = value.strip()
    if "\x00" in cleaned:
        raise BadValue("contains a NUL character")
    if len(cleaned) > max_length:
        raise BadValue(f"longer than {max_length} characters")
    return cleaned


def boolean(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in TRUE:
        return True
    if lowered in FALSE:
        return False
    raise BadValue("not true or false")


def birth_date(value: str) -> str:
    """An ISO date (YYYY-MM-DD), in the past."""
    try:
        found = date.fromisoformat(value.strip())
    except ValueError as exc:
        raise BadValue("not a date (YYYY-MM-DD)") from exc
    if found > datetime.now(UTC).date() or found.year < 1900:
        raise BadValue("not a plausible birth date")
    return found.isoformat()


def moment(value: str) -> datetime:
    """An ISO 8601 time with its zone; a bare date is midnight UTC."""
    cleaned = value.strip()
    try:
        if len(cleaned) == 10:
            return datetime.combine(date.fromisoformat(cleaned), datetime.min.time(), UTC)
        found = datetime.fromisoformat(cleaned.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadValue("not an ISO 8601 time") from exc
    if found.tzinfo is None:
        raise BadValue("a time needs its zone (e.g. +01:00 or Z)")
    try:
        return found.astimezone(UTC)
    except OverflowError as exc:
        raise BadValue("out of range") from exc


def count(value: str) -> int:
    """A whole number from 0 up to a 32-bit column's bound."""
    cleaned = value.strip()
    if not re.fullmatch(r"\+?\d+", cleaned):
        raise BadValue("not a whole number of 0 or more")
    found = int(cleaned)
    if found > INT32_MAX:
        raise BadValue(f"more than {INT32_MAX}")
    return found


def currency(value: str) -> str:
    cleaned = value.strip().upper()
    if cleaned not in CURRENCIES:
        raise BadValue("not an ISO 4217 currency code")
    return cleaned


def country(value: str) -> str:
    cleaned = value.strip().upper()
    if cleaned not in COUNTRIES:
        raise BadValue("not an ISO 3166 two-letter country code")
    return cleaned


# A file repeats a few hundred prices over its lines: each distinct one is read once.
@functools.lru_cache(maxsize=8192)
def minor_units(value: str, currency_code: str) -> int:
    """A decimal amount in the currency's major unit ("499.00", "499,00") in minor units."""
    cleaned = value.strip().replace(" ", "").replace("\u00a0", "")
    if cleaned.count(",") == 1 and "." not in cleaned:
        cleaned = cleaned.replace(",", ".")
    if cleaned.startswith("-"):
        raise BadValue("not an amount of 0 or more")
    # Digits and a decimal mark only: not "1e3", "NaN" or "0x10", which Decimal reads.
    if not AMOUNT.match(cleaned):
        raise BadValue("not a decimal amount")
    amount = Decimal(cleaned)
    digits = MINOR_DIGITS.get(currency_code, 2)
    minor = amount.scaleb(digits)
    if minor != minor.to_integral_value():
        raise BadValue(f"has more than {digits} decimals for its currency")
    if minor > INT32_MAX:
        raise BadValue("too large")
    return int(minor)


def percent_bp(value: str) -> int:
    """A percentage ("25", "12.5", "25%") in basis points."""
    cleaned = value.strip().removesuffix("%").replace(",", ".")
    try:
        rate = Decimal(cleaned)
    except InvalidOperation as exc:
        raise BadValue("not a percentage") from exc
    if not rate.is_finite() or not 0 <= rate <= 100:
        raise BadValue("not a percentage from 0 to 100")
    basis_points = rate * 100
    if basis_points != basis_points.to_integral_value():
        raise BadValue("more precise than a hundredth of a percent")
    return int(basis_points)
