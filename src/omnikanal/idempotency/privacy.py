"""Stored idempotent responses that name a person (an order's email, a profile's traits)
are deleted on erasure: a retry after that runs the request again, as after expiry."""

from sqlalchemy.orm import Session

from omnikanal.idempotency import service
from omnikanal.idempotency.models import IdempotencyRecord
from omnikanal.kit.personal_data import DomainPart, Person, PrivacyRegistry


def erase(session: Session, person: Person) -> int:
    naming = [
        record_id
        for page in service.stored_pages(session)
        for record_id, headers, body in page
        # Ids alone name no one: the erasure's own 202 is kept for its retries.
        if person.mentions(body, ids=False) or person.mentions(headers, ids=False)
    ]
    return service.forget(session, naming)


def register(registry: PrivacyRegistry) -> None:
    registry.register(
        DomainPart(
            domain="idempotency",
            tables=frozenset({IdempotencyRecord.__tablename__}),
            erase=erase,
        )
    )
