"""The catalog holds no person: products, prices, promotions and the version its cache is
checked against. It claims its tables so none is forgotten."""

from omnikanal.catalog.models import CatalogVersion, Price, Product, Promotion
from omnikanal.kit.personal_data import DomainPart, PrivacyRegistry


def register(registry: PrivacyRegistry) -> None:
    registry.register(
        DomainPart(
            domain="catalog",
            tables=frozenset(m.__tablename__ for m in (Product, Price, Promotion, CatalogVersion)),
        )
    )
