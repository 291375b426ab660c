"""The inventory domain holds no person: locations, stock, adjustments (by staff) and
holds (named by their cart or order id). It claims its tables so none is forgotten."""

from omnikanal.inventory.models import Adjustment, Hold, Location, Stock
from omnikanal.kit.personal_data import DomainPart, PrivacyRegistry


def register(registry: PrivacyRegistry) -> None:
    registry.register(
        DomainPart(
            domain="inventory",
            tables=frozenset(m.__tablename__ for m in (Location, Stock, Adjustment, Hold)),
        )
    )
