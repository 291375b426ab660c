"""Console sessions belong to staff, never to a customer; a worker's heartbeat names a
process. Claimed so no table is forgotten."""

from omnikanal.console.models import ConsoleSession, WorkerBeat
from omnikanal.kit.personal_data import DomainPart, PrivacyRegistry


def register(registry: PrivacyRegistry) -> None:
    registry.register(
        DomainPart(
            domain="console",
            tables=frozenset({ConsoleSession.__tablename__, WorkerBeat.__tablename__}),
        )
    )
