"""How each domain exports and erases its part of a person (GDPR articles 15, 17 and 20).

Plumbing: it imports no domain. Each domain that owns tables registers one ``DomainPart``
from its ``privacy.register`` (the edge, ``omnikanal.wiring.build_privacy_registry``, calls
them all), naming every table it owns — those with no personal data too — so a table no
domain claims fails a test rather than being forgotten by export and erasure.
"""

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, Text, false, func, or_
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class Person:
    """Everything that names one person, gathered before any domain erases its part.

    ``profile_ids`` are the live profile and every profile merged into it;
    ``identifiers`` maps an identifier type (email, phone, user_id, anonymous_id, card ...)
    to its stored values; ``names`` are the names they gave (first, last, full).
    """

    profile_ids: frozenset[UUID]
    identifiers: Mapping[str, frozenset[str]] = field(default_factory=dict)
    names: frozenset[str] = frozenset()

    def values(self, *types: str) -> frozenset[str]:
        """The stored values of these identifier types (all types when none are named)."""
        wanted = types or tuple(self.identifiers)
        return frozenset(v for t in wanted for v in self.identifiers.get(t, ()))

    def needles(self) -> frozenset[str]:
        """Lower-cased strings a row naming this person contains (identifiers, phones'
        digits, profile ids): a cheap ``LIKE`` pre-filter before ``mentions`` decides."""
        found = {str(p) for p in self.profile_ids}
        found |= {v.lower() for v in self.values() if len(v) >= MIN_NEEDLE}
        found |= {_digits(v)[-PHONE_TAIL:] for v in self.values("phone") if _digits(v)}
        return frozenset(found)

    def mentions(self, value: Any, *, ids: bool = True) -> bool:
        """Whether ``value`` (text, bytes, or a JSON document) names this person: one of
        their identifiers or names, a phone in any spelling, or (``ids``) a profile id."""
        pattern = self._with_ids if ids else self._without_ids
        return pattern is not None and pattern.search(_text(value)) is not None

    def scrub(self, value: Any) -> Any:
        """``value`` with every identifier, name and phone spelling of this person replaced
        by ``ERASED``, in strings and inside JSON documents (keys are kept)."""
        pattern = self._without_ids
        if pattern is None:
            return value
        return _scrubbed(value, pattern)

    @cached_property
    def _without_ids(self) -> re.Pattern[str] | None:
        return _pattern(self, ids=False)

    @cached_property
    def _with_ids(self) -> re.Pattern[str] | None:
        return _pattern(self, ids=True)


ERASED = "[erased]"
# Shorter values (a two-letter anonymous id) would match everywhere.
MIN_NEEDLE = 4
# A phone is found by its last digits, whatever separates them (070-123 45 67, +46 70 ...).
PHONE_TAIL = 8
_PHONE_SEPARATORS = r"[\s\-./()]{0,2}"


def _digits(value: str) -> str:
    return "".join(c for c in value if c.isdigit())


def _phone_pattern(value: str) -> str | None:
    tail = _digits(value)[-PHONE_TAIL:]
    if len(tail) < PHONE_TAIL:
        return None
    # The leading digits, country code and separators go with it when present.
    return r"\+?[\d\s\-./()]*?" + _PHONE_SEPARATORS.join(tail) + r"(?!\d)"


def _pattern(person: Person, *, ids: bool) -> re.Pattern[str] | None:
    parts = [re.escape(v) for v in person.values() if len(v) >= MIN_NEEDLE]
    parts += [p for v in person.values("phone") if (p := _phone_pattern(v))]
    parts += [rf"(?<!\w){re.escape(n)}(?!\w)" for n in person.names if len(n) >= 2]
    if ids:
        parts += [str(p) for p in person.profile_ids]
        parts += [p.hex for p in person.profile_ids]
    if not parts:
        return None
    # Longest first, so a whole address is replaced rather than a name inside it.
    parts.sort(key=len, reverse=True)
    return re.compile("|".join(parts), re.IGNORECASE)


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, str):
        return value
    return repr(value)


def _scrubbed(value: Any, pattern: re.Pattern[str]) -> Any:
    if isinstance(value, str):
        return pattern.sub(ERASED, value)
    if isinstance(value, Mapping):
        return {k: _scrubbed(v, pattern) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrubbed(v, pattern) for v in value]
    return value


# A domain's export: file stem -> a JSON-serialisable document (one file per stem).
Exporter = Callable[[Session, Person], Mapping[str, Any]]
# A domain's erasure: removes or anonymises its part; must be idempotent (a job that died
# half-way runs it again). Returns how many rows it changed, for the request's report.
Eraser = Callable[[Session, Person], int]


@dataclass(frozen=True)
class DomainPart:
    domain: str
    # Every table the domain owns, with personal data or not.
    tables: frozenset[str]
    # What each exported file holds, for the README in the export (stem -> one line).
    files: Mapping[str, str] = field(default_factory=dict)
    export: Exporter | None = None
    erase: Eraser | None = None
    # Erasers run in ascending order; the customers domain erases the identifiers last
    # (others find the person's rows through them).
    erase_order: int = 100


@dataclass
class PrivacyRegistry:
    _parts: dict[str, DomainPart] = field(default_factory=dict)

    def register(self, part: DomainPart) -> None:
        if part.domain in self._parts:
            raise ValueError(f"the {part.domain} domain registered its privacy part twice")
        self._parts[part.domain] = part

    def parts(self) -> list[DomainPart]:
        return sorted(self._parts.values(), key=lambda part: (part.erase_order, part.domain))

    def part(self, domain: str) -> DomainPart | None:
        return self._parts.get(domain)

    def claimed_tables(self) -> frozenset[str]:
        return frozenset(t for part in self._parts.values() for t in part.tables)

    def unclaimed(self, tables: Iterable[str]) -> list[str]:
        return sorted(set(tables) - self.claimed_tables())


def as_document(row: Any, *, leave_out: Iterable[str] = ()) -> dict[str, Any]:
    """A mapped row's columns as a JSON-ready document (for an export file)."""
    skipped = set(leave_out)
    return {
        column.key: getattr(row, column.key)
        for column in row.__table__.columns
        if column.key not in skipped
    }


def contains_any(column: Any, needles: Iterable[str]) -> ColumnElement[bool]:
    """SQL: the column's text (a JSON document's too), lower-cased, contains one of
    ``needles`` (``Person.needles``). A pre-filter: ``Person.mentions`` decides."""
    text = func.lower(sql_cast(column, Text))
    conditions = [text.contains(needle, autoescape=True) for needle in sorted(needles)]
    return or_(*conditions) if conditions else false()
