"""The privacy domain's own part: the access log is kept (it says who looked at the person
and is the retailer's to show), but the reasons typed in it may name the person, so they
are blanked. Requests hold ids only."""

from sqlalchemy.orm import Session

from omnikanal.kit.personal_data import DomainPart, Person, PrivacyRegistry
from omnikanal.privacy import service
from omnikanal.privacy.models import AccessLogEntry, PrivacyRequest


def erase(session: Session, person: Person) -> int:
    return service.blank_access_reasons(session, profile_ids=sorted(person.profile_ids))


def register(registry: PrivacyRegistry) -> None:
    registry.register(
        DomainPart(
            domain="privacy",
            tables=frozenset({AccessLogEntry.__tablename__, PrivacyRequest.__tablename__}),
            erase=erase,
        )
    )
