"""Cleaning people's records for record linkage (``duplicates.py``): compare what people
mean, not how they typed it - case, accents, punctuation, street abbreviations."""

import re
import unicodedata
from collections.abc import Sequence
from typing import Any

from omnikanal.customers.person_records import PersonRecord

# Street words and their abbreviations (Swedish and English), as whole words or, for Swedish
# compound names, as the end of one ("Storgt." -> "storgatan").
_STREET_WORDS = {
    "st": "street",
    "str": "street",
    "rd": "road",
    "ave": "avenue",
    "av": "avenue",
    "dr": "drive",
    "pl": "place",
    "cres": "crescent",
    "ct": "court",
    "cct": "circuit",
    "hwy": "highway",
    "pde": "parade",
}
_SWEDISH_SUFFIXES = (("gt", "gatan"), ("g", "gatan"), ("v", "vagen"), ("vg", "vagen"))
_NUMBER = re.compile(r"\d+[a-z]?")


def fold(value: str | None) -> str | None:
    """Lower case, accents and punctuation away, spaces squeezed; None when nothing is left."""
    if value is None:
        return None
    decomposed = unicodedata.normalize("NFKD", value.lower())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    words = re.sub(r"[^\w@+.]+|\.(?=\s|$)", " ", plain).split()
    return " ".join(words) or None


def _street_word(word: str, abbreviated: bool) -> str:
    if word in _STREET_WORDS:
        return _STREET_WORDS[word]
    if abbreviated:
        for short, long in _SWEDISH_SUFFIXES:
            if word.endswith(short) and len(word) > len(short) + 2:
                return word[: -len(short)] + long
    return word


def split_street(value: str | None) -> tuple[str | None, str | None]:
    """(house number, street name) of a street line, abbreviations written out."""
    if value is None:
        return None, None
    # An abbreviation ends in a full stop ("Storgt."): remembered before folding drops it.
    raw_words = unicodedata.normalize("NFKD", value.lower()).replace(",", " ").split()
    abbreviated = {fold(w.rstrip(".")) for w in raw_words if w.endswith(".")}
    folded = fold(value.replace(".", " ")) or ""
    number: str | None = None
    words: list[str] = []
    for word in folded.split():
        if number is None and _NUMBER.fullmatch(word):
            number = word
        else:
            words.append(_street_word(word, word in abbreviated or word.endswith("gt")))
    return number, " ".join(words) or None


def _digits(value: str | None) -> str | None:
    found = re.sub(r"\D", "", value or "")
    return found or None


def cleaned_rows(records: Sequence[PersonRecord]) -> dict[str, list[Any]]:
    """Columns as the model compares them."""
    columns: dict[str, list[Any]] = {name: [] for name in COLUMNS}
    for record in records:
        number, street = split_street(record.street)
        first = fold(record.first_name)
        last = fold(record.last_name)
        row = {
            "unique_id": record.id,
            "first_name": first,
            "last_name": last,
            "birth_date": record.birth_date or None,
            "house_number": number,
            "street": street,
            # Blocking only: a space typed or lost inside a word keeps the key.
            "street_key": street.replace(" ", "") if street else None,
            "street2": fold(record.street2),
            "postcode": _digits(record.postcode) or fold(record.postcode),
            "city": fold(record.city),
            "region": fold(record.region),
            "phone": _digits(record.phone),
            "email": fold(record.email),
            "email_user": (fold(record.email) or "").split("@")[0] or None,
        }
        for name in COLUMNS:
            columns[name].append(row[name])
    return columns


COLUMNS = (
    "unique_id",
    "first_name",
    "last_name",
    "birth_date",
    "house_number",
    "street",
    "street_key",
    "street2",
    "postcode",
    "city",
    "region",
    "phone",
    "email",
    "email_user",
)
