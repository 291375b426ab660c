"""How each domain exports and erases its part of a person (GDPR articles 15, 17 and 20).

Plumbing: it imports no domain. Each domain that owns tables registers one ``DomainPart``
from its ``privacy.register`` (the edge, ``omnikanal.wiring.build_privacy_registry``, calls
them all), naming every table it owns — those with no personal data too — so a table no
domain claims fails a test rather than being forgotten by export and erasure.
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

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
