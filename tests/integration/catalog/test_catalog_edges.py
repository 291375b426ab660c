"""Catalog input at its edges (issue 12): integers past their columns, booleans as
integers, zone-less times and over-long strings answer 422 naming the field; two requests
creating one product at once both succeed."""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from omnikanal.catalog.models import Price, Product, Promotion
from tests.factories import bearer, create_secret_key
from tests.racing import race

Headers = dict[str, str]
SKU = "COAT-WOOL-GREY-38"
PRODUCT = {"family": "COAT-WOOL", "name": "Wool coat", "category": "coats", "vat_rate_bp": 2500}
PROMOTION = {
    "code": "WINTER",
    "name": "Winter sale",
    "kind": "fixed",
    "value": 1000,
    "currency": "SEK",
    "skus": [SKU],
    "starts_at": "2026-12-01T00:00:00Z",
    "ends_at": "2026-12-31T00:00:00Z",
}


@pytest.fixture
def admin(session_factory: sessionmaker[Session]) -> Headers:
    return bearer(create_secret_key(session_factory))


@pytest.fixture
def coat(client: TestClient, admin: Headers) -> str:
    response = client.put(f"/v1/products/{SKU}", json=PRODUCT, headers=admin)
    assert response.status_code == 201, response.text
    return SKU


def refused(response: Any, field: str) -> None:
    assert response.status_code == 422, response.text
    assert field in [e["field"] for e in response.json()["errors"]], response.json()


def count(factory: sessionmaker[Session], model: type[Any]) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount": 2**31}, "body.amount"),
        ({"amount": 2**63}, "body.amount"),
        ({"amount": True}, "body.amount"),
        ({"amount": "100"}, "body.amount"),
        ({"valid_from": "2026-12-01T00:00:00"}, "body.valid_from"),
        ({"valid_from": "0001-01-01T00:00:00+14:00"}, "body.valid_from"),
        ({"currency": "SKE"}, "body.currency"),  # the shape of a code, not one ISO 4217 has
        ({"currency": "sek"}, "body.currency"),
    ],
)
def test_a_price_out_of_range_or_without_a_zone_is_refused(
    client: TestClient,
    admin: Headers,
    coat: str,
    session_factory: sessionmaker[Session],
    change: dict[str, Any],
    field: str,
) -> None:
    body = {"currency": "SEK", "amount": 100, **change}
    refused(client.post(f"/v1/products/{coat}/prices", json=body, headers=admin), field)
    assert count(session_factory, Price) == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"value": 2**31}, "body.value"),
        ({"value": True}, "body.value"),
        ({"starts_at": "2026-12-01T00:00:00"}, "body.starts_at"),
        ({"ends_at": "2026-12-31"}, "body.ends_at"),
        ({"name": "n" * 201}, "body.name"),
        ({"categories": ["c" * 101]}, "body.categories[0]"),
    ],
)
def test_a_promotion_out_of_range_or_without_a_zone_is_refused(
    client: TestClient,
    admin: Headers,
    coat: str,
    session_factory: sessionmaker[Session],
    change: dict[str, Any],
    field: str,
) -> None:
    response = client.post("/v1/promotions", json={**PROMOTION, **change}, headers=admin)
    refused(response, field)
    assert count(session_factory, Promotion) == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"vat_rate_bp": True}, "body.vat_rate_bp"),
        ({"vat_rate_bp": 2**63}, "body.vat_rate_bp"),
        ({"name": "n" * 201}, "body.name"),
        ({"family": "f" * 65}, "body.family"),
        ({"category": "c" * 101}, "body.category"),
    ],
)
def test_a_product_out_of_range_is_refused(
    client: TestClient,
    admin: Headers,
    session_factory: sessionmaker[Session],
    change: dict[str, Any],
    field: str,
) -> None:
    refused(client.put(f"/v1/products/{SKU}", json={**PRODUCT, **change}, headers=admin), field)
    refused(client.put(f"/v1/products/{'S' * 65}", json=PRODUCT, headers=admin), "path.sku")
    assert count(session_factory, Product) == 0


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        (f"/v1/products/{SKU}/price", {"at": "2026-12-01T10:00:00"}, "query.at"),
        (f"/v1/products/{SKU}/price", {"at": "9999-12-31T23:00:00-14:00"}, "query.at"),
        ("/v1/promotions", {"live_at": "2026-12-01T10:00:00"}, "query.live_at"),
        ("/v1/products", {"category": "c" * 101}, "query.category"),
        ("/v1/products", {"limit": 2**63}, "query.limit"),
        (f"/v1/products/{SKU}/price", {"currency": "ABC"}, "query.currency"),
    ],
)
def test_catalog_queries_out_of_range_or_without_a_zone_are_refused(
    client: TestClient,
    admin: Headers,
    coat: str,
    path: str,
    params: dict[str, Any],
    field: str,
) -> None:
    refused(
        client.get(path, params={"channel": "web", "currency": "SEK", **params}, headers=admin),
        field,
    )


def test_two_requests_creating_one_product_at_once_both_succeed(
    client: TestClient, admin: Headers, session_factory: sessionmaker[Session]
) -> None:
    racers = 6
    for round_ in range(3):
        path = f"/v1/products/RACE-{round_}"
        bodies = [{**PRODUCT, "name": f"name {i}"} for i in range(racers)]
        assert race(client, admin, path, bodies) == [200] * (racers - 1) + [201]
        assert client.get(path, headers=admin).json()["name"].startswith("name ")
    assert count(session_factory, Product) == 3


def test_two_requests_creating_one_promotion_at_once_make_it_once(
    client: TestClient, admin: Headers, coat: str, session_factory: sessionmaker[Session]
) -> None:
    bodies = [{**PROMOTION, "name": f"Winter {i}"} for i in range(6)]
    statuses = race(client, admin, "/v1/promotions", bodies, method="POST")
    assert statuses == [201] + [409] * 5
    assert count(session_factory, Promotion) == 1
