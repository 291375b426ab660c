"""Delivery addresses as the endless-aisle form takes them: each field checked, the postcode
by the country's own pattern, so "x / x / x, ZZ" never reaches a warehouse."""

import re

from omnikanal.console.forms import FieldRefused

# Postcodes of the countries the retailer delivers to, written as people write them.
POSTCODES: dict[str, tuple[re.Pattern[str], str]] = {
    "SE": (re.compile(r"^\d{3} ?\d{2}$"), "five digits, e.g. 111 22"),
    "DK": (re.compile(r"^\d{4}$"), "four digits, e.g. 2100"),
    "NO": (re.compile(r"^\d{4}$"), "four digits, e.g. 0150"),
    "FI": (re.compile(r"^\d{5}$"), "five digits, e.g. 00100"),
    "DE": (re.compile(r"^\d{5}$"), "five digits, e.g. 10115"),
    "NL": (re.compile(r"^\d{4} ?[A-Z]{2}$"), "four digits and two letters, e.g. 1012 AB"),
    "GB": (
        re.compile(r"^[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}$"),
        "a UK postcode, e.g. SW1A 1AA",
    ),
}
COUNTRY_NAMES = {
    "SE": "Sweden",
    "DK": "Denmark",
    "NO": "Norway",
    "FI": "Finland",
    "DE": "Germany",
    "NL": "the Netherlands",
    "GB": "the United Kingdom",
}
_LETTER = re.compile(r"[^\W\d_]")


def _words(value: str, field: str, what: str, *, shortest: int) -> str:
    text = " ".join(value.split())
    if len(text) < shortest or not _LETTER.search(text):
        raise FieldRefused(field, f"Write the {what} in full.")
    if len(text) > 200:
        raise FieldRefused(field, f"The {what} is longer than 200 characters.")
    return text


def checked(*, name: str, street: str, postal_code: str, city: str, country: str) -> dict[str, str]:
    """The address to deliver to, or the first field that cannot be, with why."""
    code = country.strip().upper()
    if code not in POSTCODES:
        known = ", ".join(f"{c} ({n})" for c, n in COUNTRY_NAMES.items())
        raise FieldRefused("country", f"We deliver to {known}; choose one of those.")
    pattern, example = POSTCODES[code]
    postcode = " ".join(postal_code.upper().split())
    if not pattern.match(postcode):
        raise FieldRefused(
            "postal_code", f"That is not a postcode in {COUNTRY_NAMES[code]}: {example}."
        )
    return {
        "name": _words(name, "name", "name", shortest=2),
        "street": _words(street, "street", "street and number", shortest=3),
        "postal_code": postcode,
        "city": _words(city, "city", "town or city", shortest=2),
        "country": code,
    }
