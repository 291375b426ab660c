"""FEBRL files (../shared/data/febrl, see its SOURCE.md) as the people record linkage compares.

The data is licensed for testing and evaluation only: it is read where it lies, never copied.
"""

import csv
import os
from itertools import combinations
from pathlib import Path

from omnikanal.customers.person_records import PersonRecord

ROOT = Path(__file__).resolve().parent.parent


def febrl_dir() -> Path:
    """``../shared/data/febrl`` beside the repository, or ``$OMNIKANAL_SHARED_DATA/febrl``."""
    shared = os.environ.get("OMNIKANAL_SHARED_DATA")
    base = Path(shared) if shared else ROOT.parent / "shared" / "data"
    return base / "febrl"


def _date(value: str) -> str | None:
    value = value.strip()
    if len(value) != 8 or not value.isdigit():
        return None
    return f"{value[:4]}-{value[4:6]}-{value[6:]}"


def read(path: Path) -> list[PersonRecord]:
    """Each row as a person: name, birth date, street (number and name), second address
    line, suburb as the city, postcode and state. The social security number is left out:
    the hub holds nothing like it."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, skipinitialspace=True))
    return [
        PersonRecord(
            id=row["rec_id"].strip(),
            first_name=row["given_name"] or None,
            last_name=row["surname"] or None,
            birth_date=_date(row["date_of_birth"] or ""),
            street=" ".join(p for p in (row["street_number"], row["address_1"]) if p) or None,
            street2=row["address_2"] or None,
            postcode=row["postcode"] or None,
            city=row["suburb"] or None,
            region=row["state"] or None,
        )
        for row in rows
    ]


def entity(record_id: str) -> str:
    """``rec-<N>-org`` and ``rec-<N>-dup-<k>`` are person N."""
    return record_id.split("-")[1]


def true_pairs(records: list[PersonRecord]) -> set[frozenset[str]]:
    """Every pair of records of one person (within one list)."""
    by_entity: dict[str, list[str]] = {}
    for record in records:
        by_entity.setdefault(entity(record.id), []).append(record.id)
    return {frozenset(pair) for ids in by_entity.values() for pair in combinations(ids, 2)}


def true_links(left: list[PersonRecord], right: list[PersonRecord]) -> set[frozenset[str]]:
    """Every pair of one person across two lists."""
    by_entity: dict[str, list[str]] = {}
    for record in right:
        by_entity.setdefault(entity(record.id), []).append(record.id)
    return {
        frozenset((record.id, other))
        for record in left
        for other in by_entity.get(entity(record.id), [])
    }
