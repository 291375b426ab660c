"""A small retailer for the commerce tests: a catalog priced in SEK, two stores that offer
pickup, a warehouse, stock, and keys for the web shop, the app, both stores' tills and
staff. Everything is made through the services and committed."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from omnikanal.auth.models import Channel, Role
from omnikanal.catalog import service as catalog_service
from omnikanal.inventory import service as inventory_service
from omnikanal.inventory.models import Location
from omnikanal.uow import unit_of_work
from tests.factories import basic, bearer, create_secret_key, create_source

Headers = dict[str, str]

COAT = "COAT-WOOL-GREY-38"
SCARF = "SCARF-MERINO-RED"
LATTE = "LATTE-OAT-M"
PRICES = {COAT: 249_900, SCARF: 49_900, LATTE: 4_900}
GBG, STHLM, WAREHOUSE = "gbg-avenyn", "sthlm-drottninggatan", "wh-boras"


@dataclass(frozen=True)
class Shop:
    client: TestClient
    factory: sessionmaker[Session]
    admin: Headers
    web: Headers
    app: Headers
    gbg: Headers
    sthlm: Headers
    agent: Headers
    analyst: Headers
    web_events: Headers
    app_events: Headers

    def ok(self, response: Any, status: int = 200) -> Any:
        assert response.status_code == status, response.text
        return response.json()

    def stock(self, location: str, sku: str) -> tuple[int, int, int]:
        """(on hand, reserved, allocated)."""
        with self.factory() as session:
            from omnikanal.inventory import repository

            row = repository.get_stock(session, location, sku)
            return (row.on_hand, row.reserved, row.allocated) if row else (0, 0, 0)


def _catalog(session: Session) -> None:
    products = {
        COAT: ("COAT-WOOL", "Wool coat, grey", "coats", 2500),
        SCARF: ("SCARF-MERINO", "Merino scarf, red", "accessories", 2500),
        LATTE: ("LATTE", "Oat latte, medium", "coffee", 1200),
    }
    for sku, (family, name, category, vat) in products.items():
        catalog_service.upsert_product(
            session,
            sku=sku,
            fields={
                "family": family,
                "name": name,
                "category": category,
                "attributes": {},
                "image_urls": [f"https://images.example.com/{family.lower()}.jpg"],
                "vat_rate_bp": vat,
            },
        )
        catalog_service.set_price(
            session,
            sku=sku,
            currency="SEK",
            amount=PRICES[sku],
            valid_from=datetime(2026, 1, 1, tzinfo=UTC),
        )


def _locations(session: Session) -> None:
    for code, name, kind, lat, lon, pickup in (
        (GBG, "Göteborg Avenyn", "store", 57.6996, 11.9746, True),
        (STHLM, "Stockholm Drottninggatan", "store", 59.3326, 18.0649, True),
        (WAREHOUSE, "Borås warehouse", "warehouse", 57.7210, 12.9401, False),
    ):
        session.add(
            Location(
                code=code, name=name, kind=kind, latitude=lat, longitude=lon, offers_pickup=pickup
            )
        )
    session.flush()
    for location, sku, quantity in (
        (WAREHOUSE, COAT, 20),
        (WAREHOUSE, SCARF, 20),
        (GBG, COAT, 2),
        (GBG, SCARF, 5),
        (GBG, LATTE, 50),
        (STHLM, COAT, 3),
        (STHLM, LATTE, 50),
    ):
        inventory_service.adjust(
            session, location=location, sku=sku, quantity=quantity, reason="receipt"
        )


@pytest.fixture
def shop(client: TestClient, session_factory: sessionmaker[Session]) -> Shop:
    with unit_of_work(session_factory) as session:
        _catalog(session)
        _locations(session)

    def key(role: Role, **kwargs: Any) -> Headers:
        return bearer(create_secret_key(session_factory, role=role, **kwargs))

    return Shop(
        client=client,
        factory=session_factory,
        admin=key(Role.ADMIN),
        web=key(Role.CHANNEL, channel=Channel.WEB),
        app=key(Role.CHANNEL, channel=Channel.APP),
        gbg=key(Role.STORE, location=GBG),
        sthlm=key(Role.STORE, location=STHLM),
        agent=key(Role.AGENT),
        analyst=key(Role.ANALYST),
        web_events=basic(create_source(session_factory, channel=Channel.WEB, name="Web shop")),
        app_events=basic(create_source(session_factory, channel=Channel.APP, name="App")),
    )


CARD = [{"type": "card", "reference": "tok_visa_4242"}]


def delivery() -> dict[str, Any]:
    return {
        "type": "delivery",
        "address": {
            "name": "Anna Svensson",
            "street": "Storgatan 1",
            "postal_code": "411 38",
            "city": "Göteborg",
            "country": "SE",
        },
    }
