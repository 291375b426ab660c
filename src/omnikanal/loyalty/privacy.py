"""The loyalty domain's part: membership and the points ledger.

Erasure keeps the ledger's amounts (points are a liability in the books) under a new,
random holder that leads to no one, and retires the card number."""

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from omnikanal.kit.ids import new_id
from omnikanal.kit.personal_data import DomainPart, Person, PrivacyRegistry, as_document
from omnikanal.loyalty import repository
from omnikanal.loyalty.models import (
    LoyaltyLedgerEntry,
    LoyaltyMember,
    LoyaltyProgram,
    LoyaltyReward,
)

RETIRED_CARD_PREFIX = "erased-"


def export(session: Session, person: Person) -> Mapping[str, Any]:
    ids = sorted(person.profile_ids)
    return {
        "loyalty": {
            "memberships": [as_document(m) for m in repository.members_of(session, ids)],
            "ledger": [as_document(e) for e in repository.ledger_of(session, ids)],
        }
    }


def erase(session: Session, person: Person) -> int:
    ids = sorted(person.profile_ids)
    members = repository.members_of(session, ids)
    entries = repository.ledger_of(session, ids)
    if not members and not entries:
        return 0
    holder = new_id()
    for index, member in enumerate(members):
        # The ledger stays with the first membership; profile_id is unique per member.
        member.profile_id = holder if index == 0 else new_id()
        member.card_number = f"{RETIRED_CARD_PREFIX}{new_id().hex[:24]}"
    for entry in entries:
        entry.profile_id = holder
        entry.note = person.scrub(entry.note)
    session.flush()
    return len(members) + len(entries)


def register(registry: PrivacyRegistry) -> None:
    registry.register(
        DomainPart(
            domain="loyalty",
            tables=frozenset(
                model.__tablename__
                for model in (LoyaltyProgram, LoyaltyMember, LoyaltyLedgerEntry, LoyaltyReward)
            ),
            files={
                "loyalty": "Your loyalty membership (card number, when and where you joined) "
                "and every change of your points: earned, spent, reversed, expired.",
            },
            export=export,
            erase=erase,
        )
    )
