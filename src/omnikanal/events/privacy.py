"""The events domain's part: every message the person's channels sent. Erasure deletes
them, and the appended messages not yet placed that name the person."""

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from omnikanal.events import repository
from omnikanal.events.models import Event, InboxMessage, ResolverLease
from omnikanal.kit.personal_data import DomainPart, Person, PrivacyRegistry, contains_any


def export(session: Session, person: Person) -> Mapping[str, Any]:
    events = repository.events_of(session, sorted(person.profile_ids))
    return {
        "events": [
            {
                "id": e.id,
                "type": e.type,
                "name": e.name,
                "channel": e.channel,
                "location": e.location,
                "timestamp": e.timestamp,
                "received_at": e.received_at,
                "profile_id": e.profile_id,
                "message": e.message,
            }
            for e in events
        ]
    }


def erase(session: Session, person: Person) -> int:
    deleted = repository.delete_events_of(session, sorted(person.profile_ids))
    candidates = repository.inbox_rows_containing(
        session, contains_any(InboxMessage.message, person.needles())
    )
    naming = [position for position, message in candidates if person.mentions(message)]
    return deleted + repository.delete_inbox_rows(session, naming)


def register(registry: PrivacyRegistry) -> None:
    registry.register(
        DomainPart(
            domain="events",
            tables=frozenset(
                {Event.__tablename__, InboxMessage.__tablename__, ResolverLease.__tablename__}
            ),
            files={
                "events": "Every event your devices and our channels sent about you (pages "
                "and screens seen, actions, identify calls), as they were sent.",
            },
            export=export,
            erase=erase,
        )
    )
