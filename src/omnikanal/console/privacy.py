"""Console sessions belong to staff, never to a customer. Claimed so no table is
forgotten."""

from omnikanal.console.models import ConsoleSession
from omnikanal.kit.personal_data import DomainPart, PrivacyRegistry


def register(registry: PrivacyRegistry) -> None:
    registry.register(
        DomainPart(domain="console", tables=frozenset({ConsoleSession.__tablename__}))
    )
