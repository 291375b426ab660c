"""People from another system (a CRM's or a web shop's export), placed in bulk through the
identity graph as identify messages would place them, with a handful of statements per
batch. A person whose identifiers are all known, and whose profile (that of the strongest)
already shows every trait given, is left as it is: the same file imported twice changes
nothing, not even a refused merge logged again."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.orm import Session

from omnikanal.customers import repository
from omnikanal.customers.identity import IdentifierKey, normalize
from omnikanal.customers.placement import Sighting, observe, rules


class PersonStatus:
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class KnownPerson:
    """One person as another system knows them: identifiers as (type, canonical value)
    (see ``canonical_identifier``), strongest first, and the traits to show."""

    identifiers: list[tuple[str, str]]
    traits: dict[str, Any]

    @property
    def keys(self) -> list[IdentifierKey]:
        return [IdentifierKey(type_, value) for type_, value in self.identifiers]


@dataclass(frozen=True)
class PersonPlaced:
    profile_id: UUID
    status: str


def canonical_identifier(session: Session, type_: str, raw: str) -> str | None:
    """The identifier's stored form (a phone in E.164, an email lower-cased), or None
    when ``raw`` cannot be one."""
    return normalize(rules(session), type_, raw)


def import_people(
    session: Session, people: Sequence[KnownPerson], *, channel: str, at: datetime
) -> list[PersonPlaced]:
    """Each person linked to the profile their identifiers name (created when none does),
    with their traits; in the order given. Identity changes are serialized as usual."""
    repository.lock_identity_graph(session)
    identity_rules = rules(session)
    owned = repository.owners(session, [key for p in people for key in p.keys])
    owner = {key: profile_id for key, profile_id, _ in owned}
    settled: dict[int, UUID] = {}
    for index, person in enumerate(people):
        # Known when every identifier is: a first import linked them as far as the rules
        # allow (a merge refused then is refused again), so the person is the profile of
        # the strongest one.
        keys = person.keys
        if keys and all(key in owner for key in keys):
            settled[index] = owner[min(keys, key=identity_rules.order)]
    shown = {
        row[0]: row[1] or {}
        for row in repository.projection_rows(session, sorted(set(settled.values())))
    }
    results: list[PersonPlaced | None] = [None] * len(people)
    changing: list[int] = []
    for index, person in enumerate(people):
        profile_id = settled.get(index)
        traits = shown.get(profile_id, {}) if profile_id else {}
        if profile_id and all(traits.get(k) == v for k, v in person.traits.items()):
            results[index] = PersonPlaced(profile_id, PersonStatus.UNCHANGED)
        else:
            changing.append(index)
    if changing:
        observation = observe(
            session,
            [
                Sighting(
                    identifiers=people[i].keys,
                    traits=people[i].traits,
                    channel=channel,
                    seen_at=at,
                )
                for i in changing
            ],
        )
        created: set[UUID] = set()
        for index, placement in zip(changing, observation.placements, strict=True):
            known = any(key in owner for key in people[index].keys)
            new = not known and placement.profile_id not in created
            created.add(placement.profile_id)
            status = PersonStatus.CREATED if new else PersonStatus.UPDATED
            results[index] = PersonPlaced(placement.profile_id, status)
    return [r for r in results if r is not None]
