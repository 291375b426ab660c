"""Inventory input at its edges (issue 12): counts and changes past 32 bits, booleans as
integers and over-long strings answer 422 naming the field, and nothing changes; two
requests creating one location at once both succeed."""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from omnikanal.inventory.models import Adjustment, Location
from omnikanal.kit.limits import INT32_MAX
from tests.factories import bearer, create_secret_key
from tests.racing import race

Headers = dict[str, str]
SKU = "COAT-WOOL-GREY-38"
GBG, WAREHOUSE = "gbg-avenyn", "wh-boras"


def place(name: str, kind: str) -> dict[str, Any]:
    return {
        "name": name,
        "kind": kind,
        "address": {"street": "Gatan 1", "postal_code": "111 11", "city": "X", "country": "SE"},
        "latitude": 57.7,
        "longitude": 11.97,
        "offers_pickup": kind == "store",
    }


@pytest.fixture
def admin(session_factory: sessionmaker[Session]) -> Headers:
    return bearer(create_secret_key(session_factory))


@pytest.fixture
def chain(client: TestClient, admin: Headers) -> None:
    for code, kind in ((GBG, "store"), (WAREHOUSE, "warehouse")):
        response = client.put(f"/v1/locations/{code}", json=place(code, kind), headers=admin)
        assert response.status_code == 201, response.text
    product = {"family": "COAT", "name": "Coat", "category": "coats", "vat_rate_bp": 2500}
    response = client.put(f"/v1/products/{SKU}", json=product, headers=admin)
    assert response.status_code == 201, response.text


def refused(response: Any, field: str) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    problem: dict[str, Any] = response.json()
    assert field in [e["field"] for e in problem["errors"]], problem
    return problem


def adjustments(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(Adjustment)) or 0)


def on_hand(client: TestClient, headers: Headers, location: str) -> int:
    response = client.get(f"/v1/inventory/{location}/{SKU}", headers=headers)
    assert response.status_code == 200, response.text
    value: int = response.json()["on_hand"]
    return value


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (f"{GBG}/{SKU}/adjustments", {"reason": "receipt", "quantity": 2**31}, "body.quantity"),
        (f"{GBG}/{SKU}/adjustments", {"reason": "damage", "quantity": -(2**31)}, "body.quantity"),
        (f"{GBG}/{SKU}/adjustments", {"reason": "receipt", "quantity": 2**63}, "body.quantity"),
        (f"{GBG}/{SKU}/adjustments", {"reason": "receipt", "quantity": True}, "body.quantity"),
        (f"{GBG}/{SKU}/adjustments", {"reason": "receipt", "quantity": "5"}, "body.quantity"),
        (f"{GBG}/{SKU}/count", {"counted": 2**31}, "body.counted"),
        (f"{GBG}/{SKU}/count", {"counted": True}, "body.counted"),
        (f"{GBG}/{SKU}/count", {"counted": 1, "reference": "r" * 201}, "body.reference"),
        (
            "transfers",
            {"sku": SKU, "from_location": GBG, "to_location": WAREHOUSE, "quantity": 2**31},
            "body.quantity",
        ),
        (
            "transfers",
            {"sku": SKU, "from_location": GBG, "to_location": WAREHOUSE, "quantity": True},
            "body.quantity",
        ),
    ],
)
def test_stock_changes_out_of_range_are_refused(
    client: TestClient,
    admin: Headers,
    chain: None,
    session_factory: sessionmaker[Session],
    path: str,
    body: dict[str, Any],
    field: str,
) -> None:
    refused(client.post(f"/v1/inventory/{path}", json=body, headers=admin), field)
    assert adjustments(session_factory) == 0


def test_stock_never_passes_its_32_bit_column(
    client: TestClient, admin: Headers, chain: None, session_factory: sessionmaker[Session]
) -> None:
    full = {"reason": "receipt", "quantity": INT32_MAX}
    response = client.post(f"/v1/inventory/{GBG}/{SKU}/adjustments", json=full, headers=admin)
    assert response.status_code == 201, response.text
    one_more = {"reason": "receipt", "quantity": 1}
    problem = refused(
        client.post(f"/v1/inventory/{GBG}/{SKU}/adjustments", json=one_more, headers=admin),
        "quantity",
    )
    assert problem["code"] == "too_much_stock"
    # A transfer into the full location is refused too, and nothing moves.
    client.post(f"/v1/inventory/{WAREHOUSE}/{SKU}/adjustments", json=one_more, headers=admin)
    moved = {"sku": SKU, "from_location": WAREHOUSE, "to_location": GBG, "quantity": 1}
    refused(client.post("/v1/inventory/transfers", json=moved, headers=admin), "quantity")
    assert on_hand(client, admin, GBG) == INT32_MAX
    assert on_hand(client, admin, WAREHOUSE) == 1
    assert adjustments(session_factory) == 2


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": "n" * 201}, "body.name"),
        ({"address": {**place("x", "store")["address"], "city": "c" * 201}}, "body.address.city"),
        ({"offers_pickup": "maybe"}, "body.offers_pickup"),
        # The shape of a country code, not one ISO 3166 has.
        ({"address": {**place("x", "store")["address"], "country": "SW"}}, "body.address.country"),
    ],
)
def test_a_location_out_of_range_is_refused(
    client: TestClient,
    admin: Headers,
    session_factory: sessionmaker[Session],
    change: dict[str, Any],
    field: str,
) -> None:
    body = {**place("Göteborg", "store"), **change}
    refused(client.put(f"/v1/locations/{GBG}", json=body, headers=admin), field)
    refused(
        client.put(f"/v1/locations/{'x' * 101}", json=place("X", "store"), headers=admin),
        "path.code",
    )
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Location)) == 0


def test_inventory_queries_out_of_range_are_refused(
    client: TestClient, admin: Headers, chain: None
) -> None:
    nearby = client.get(
        "/v1/locations/nearby", params={"lat": 57, "lon": 11, "limit": 2**63}, headers=admin
    )
    refused(nearby, "query.limit")
    detail = client.get(f"/v1/inventory/{GBG}/{SKU}", params={"adjustments": 2**31}, headers=admin)
    refused(detail, "query.adjustments")
    page = client.get(f"/v1/inventory/{GBG}", params={"sku": "s" * 65}, headers=admin)
    refused(page, "query.sku")


def test_two_requests_creating_one_location_at_once_both_succeed(
    client: TestClient, admin: Headers, session_factory: sessionmaker[Session]
) -> None:
    racers = 6
    for round_ in range(3):
        path = f"/v1/locations/race-{round_}"
        bodies = [place(f"Store {i}", "store") for i in range(racers)]
        assert race(client, admin, path, bodies) == [200] * (racers - 1) + [201]
        assert client.get(path, headers=admin).json()["name"].startswith("Store ")
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Location)) == 3


@pytest.mark.parametrize("code", ["nearby", "transfers"])
def test_a_location_cannot_take_a_code_that_is_a_path(
    client: TestClient, admin: Headers, session_factory: sessionmaker[Session], code: str
) -> None:
    response = client.put(f"/v1/locations/{code}", json=place(code, "store"), headers=admin)
    refused(response, "path.code")
    with session_factory() as session:
        assert session.scalar(select(Location).where(Location.code == code)) is None
