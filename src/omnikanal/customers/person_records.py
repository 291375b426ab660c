"""What record linkage of people reads and gives: a person's record, a scored pair, and
the probability from which a pair is suggested.

Apart from ``duplicates.py``, which scores them with Splink, DuckDB and pyarrow: those take
about half a second to import, and only scoring needs them.
"""

from dataclasses import dataclass
from enum import StrEnum

# A pair at or above this probability is suggested (and counted as a match by the benchmark).
DEFAULT_THRESHOLD = 0.9


class Agreement(StrEnum):
    EXACT = "exact"
    FUZZY = "fuzzy"


@dataclass(frozen=True)
class PersonRecord:
    """One person as record linkage sees them; every field optional."""

    id: str
    first_name: str | None = None
    last_name: str | None = None
    # ISO date, YYYY-MM-DD.
    birth_date: str | None = None
    # The street line with its house number ("Storgatan 1", "8 stanley street").
    street: str | None = None
    # A second address line (building, c/o, locality).
    street2: str | None = None
    postcode: str | None = None
    city: str | None = None
    region: str | None = None
    phone: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class Match:
    left_id: str
    right_id: str
    probability: float
    weight: float
    # Field -> how it agreed; fields that disagreed or were missing are absent.
    agreed: dict[str, Agreement]
