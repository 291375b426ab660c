"""The customers domain's part of an export and an erasure: profiles, identifiers, traits,
the merge log and duplicate suggestions. Erased last: every other domain finds the person's
rows through the identifiers and profiles kept here until then."""

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from omnikanal.customers import repository, service
from omnikanal.customers.models import DuplicateSuggestion, Identifier, MergeLogEntry, Profile
from omnikanal.kit.personal_data import DomainPart, Person, PrivacyRegistry, as_document

ERASED_LAST = 1000


def export(session: Session, person: Person) -> Mapping[str, Any]:
    ids = sorted(person.profile_ids)
    profiles, identifiers = service.people_rows(session, profile_ids=ids)
    log = repository.log_for(session, ids, limit=10_000)
    return {
        "profile": [
            as_document(p, leave_out=("traits", "trait_times", "computed_traits")) for p in profiles
        ],
        "identifiers": [as_document(i) for i in identifiers],
        "traits": [
            {
                "profile_id": p.id,
                "traits": p.traits,
                "trait_times": p.trait_times,
                "computed_traits": p.computed_traits,
            }
            for p in profiles
        ],
        "merge_log": [as_document(entry) for entry in log],
        "duplicate_suggestions": [
            as_document(s) for s in service.suggestions_of(session, profile_ids=ids)
        ],
    }


def erase(session: Session, person: Person) -> int:
    return service.erase_people(session, profile_ids=sorted(person.profile_ids))


def register(registry: PrivacyRegistry) -> None:
    registry.register(
        DomainPart(
            domain="customers",
            tables=frozenset(
                {
                    Profile.__tablename__,
                    Identifier.__tablename__,
                    MergeLogEntry.__tablename__,
                    DuplicateSuggestion.__tablename__,
                }
            ),
            files={
                "profile": "Your profiles: the one you are known by and any merged into it, "
                "when first and last seen, and on which channels.",
                "identifiers": "Every identifier we link to you (email, phone, user id, "
                "devices, loyalty card ...) and when it was added.",
                "traits": "What you told us about yourself (traits) and what we derived from "
                "your history (computed traits).",
                "merge_log": "Why profiles were joined into yours or split from it.",
                "duplicate_suggestions": "Profiles we thought might be you too (by name, "
                "birth date, address, phone or email), how likely, and what staff decided.",
            },
            export=export,
            erase=erase,
            erase_order=ERASED_LAST,
        )
    )
