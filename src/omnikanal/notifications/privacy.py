"""The notifications domain's part: the notices the person was owed (order ready ...).
Erasure deletes them."""

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from omnikanal.kit.personal_data import DomainPart, Person, PrivacyRegistry, as_document
from omnikanal.notifications import repository
from omnikanal.notifications.models import Notification


def _recipients(person: Person) -> list[str]:
    return sorted(v.lower() for v in person.values("email", "phone"))


def export(session: Session, person: Person) -> Mapping[str, Any]:
    found = repository.of_person(session, sorted(person.profile_ids), _recipients(person))
    return {"notifications": [as_document(n) for n in found]}


def erase(session: Session, person: Person) -> int:
    return repository.delete_of_person(session, sorted(person.profile_ids), _recipients(person))


def register(registry: PrivacyRegistry) -> None:
    registry.register(
        DomainPart(
            domain="notifications",
            tables=frozenset({Notification.__tablename__}),
            files={
                "notifications": "Notices we owed you (your order is ready ...), how and "
                "where they were sent.",
            },
            export=export,
            erase=erase,
        )
    )
