"""Timers whose payload or key names a person (an abandoned cart's profile, a reminder's
address) are deleted on erasure: the work they stood for is for someone who is gone."""

from functools import partial

from sqlalchemy.orm import Session

from omnikanal.kit.personal_data import DomainPart, Person, PrivacyRegistry, contains_any
from omnikanal.timers import service
from omnikanal.timers.models import Timer


def erase(session: Session, person: Person) -> int:
    candidates = service.matching(
        session, payload_or_key=partial(contains_any, needles=person.needles())
    )
    naming = [
        t.id
        for t in candidates
        if person.mentions(t.payload) or person.mentions(t.key) or person.mentions(t.last_error)
    ]
    return service.delete_timers(session, naming)


def register(registry: PrivacyRegistry) -> None:
    registry.register(
        DomainPart(domain="timers", tables=frozenset({Timer.__tablename__}), erase=erase)
    )
