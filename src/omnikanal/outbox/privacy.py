"""Domain events that name a person (an order's email, a profile id) are purged on
erasure once every delivery of theirs is done; one still to be delivered is kept, its
payload stripped of the person's identifiers and names, so handlers and webhooks still get
the ids they act on. Webhook endpoints name no one."""

from sqlalchemy.orm import Session, attributes

from omnikanal.kit.personal_data import DomainPart, Person, PrivacyRegistry, contains_any
from omnikanal.outbox import repository
from omnikanal.outbox.models import OutboxDelivery, OutboxEvent, WebhookEndpoint


def erase(session: Session, person: Person) -> int:
    candidates = repository.events_where(
        session, contains_any(OutboxEvent.payload, person.needles())
    )
    naming = [e for e in candidates if person.mentions(e.payload)]
    pending = repository.events_with_pending_deliveries(session, [e.id for e in naming])
    for event in naming:
        if event.id in pending:
            event.payload = person.scrub(event.payload)
            attributes.flag_modified(event, "payload")
    session.flush()
    purged = repository.delete_events(session, [e.id for e in naming if e.id not in pending])
    return purged + len(pending)


def register(registry: PrivacyRegistry) -> None:
    registry.register(
        DomainPart(
            domain="outbox",
            tables=frozenset(
                m.__tablename__ for m in (OutboxEvent, OutboxDelivery, WebhookEndpoint)
            ),
            erase=erase,
        )
    )
