"""The exports domain holds no person: its cursor is a kind, a folder, an event id or a
time, and counts. The files it wrote are outside the hub's reach (docs/exports.md): a
warehouse that received them erases there, on ``profile.erased``."""

from omnikanal.exports.models import ExportCursor
from omnikanal.kit.personal_data import DomainPart, PrivacyRegistry


def register(registry: PrivacyRegistry) -> None:
    registry.register(DomainPart(domain="exports", tables=frozenset({ExportCursor.__tablename__})))
