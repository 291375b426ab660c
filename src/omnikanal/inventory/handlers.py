"""The inventory's periodic work: reservations that ran out give their stock back."""

from datetime import timedelta

from sqlalchemy.orm import Session

from omnikanal.inventory import service
from omnikanal.outbox.registry import HandlerRegistry


def expire_reservations(session: Session) -> None:
    service.expire_due(session)


def register(registry: HandlerRegistry) -> None:
    registry.every("inventory.expire_reservations", timedelta(minutes=1), expire_reservations)
