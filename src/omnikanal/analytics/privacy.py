"""The analytics domain holds no person: every report reads a snapshot of the other
domains' data when asked and keeps nothing."""

from omnikanal.kit.personal_data import DomainPart, PrivacyRegistry


def register(registry: PrivacyRegistry) -> None:
    registry.register(DomainPart(domain="analytics", tables=frozenset()))
