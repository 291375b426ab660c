"""One stock through HTTP (S5, S7, S9): stores and warehouses, which are near, where a SKU
can be had, and every change of stock with its reason."""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from omnikanal import demo
from omnikanal.auth.models import Role
from omnikanal.inventory import service
from omnikanal.inventory.models import Adjustment, HoldKind
from omnikanal.outbox.models import OutboxEvent
from omnikanal.uow import unit_of_work
from tests.factories import basic, bearer, create_secret_key, create_source

Headers = dict[str, str]

COAT = "COAT-WOOL-GREY-38"
SCARF = "SCARF-MERINO-RED"
# Göteborg Centralstation.
GOTEBORG = {"lat": 57.7089, "lon": 11.9746}
HOURS = dict.fromkeys(("mon", "tue", "wed", "thu", "fri"), "10:00-19:00") | {
    "sat": "10:00-17:00",
    "sun": None,
}


def place(name: str, kind: str, city: str, country: str, lat: float, lon: float) -> dict[str, Any]:
    return {
        "name": name,
        "kind": kind,
        "address": {"street": "Gatan 1", "postal_code": "111 11", "city": city, "country": country},
        "latitude": lat,
        "longitude": lon,
        "opening_hours": HOURS if kind == "store" else {},
        "offers_pickup": kind == "store",
    }


LOCATIONS = {
    "sthlm-drottninggatan": place(
        "Stockholm Drottninggatan", "store", "Stockholm", "SE", 59.3326, 18.0649
    ),
    "gbg-avenyn": place("Göteborg Avenyn", "store", "Göteborg", "SE", 57.6996, 11.9746),
    "cph-stroget": place("København Strøget", "store", "København", "DK", 55.6786, 12.5760),
    "wh-boras": place("Warehouse Borås", "warehouse", "Borås", "SE", 57.7210, 12.9401),
}


@pytest.fixture
def admin(session_factory: sessionmaker[Session]) -> Headers:
    return bearer(create_secret_key(session_factory))


@pytest.fixture
def agent(session_factory: sessionmaker[Session]) -> Headers:
    return bearer(create_secret_key(session_factory, role=Role.AGENT))


@pytest.fixture
def gbg_staff(session_factory: sessionmaker[Session]) -> Headers:
    return bearer(create_secret_key(session_factory, role=Role.STORE, location="gbg-avenyn"))


@pytest.fixture
def chain(client: TestClient, admin: Headers) -> None:
    """Four locations, two products; 10 coats in Borås, 2 in Göteborg, 5 scarves there."""
    for code, body in LOCATIONS.items():
        response = client.put(f"/v1/locations/{code}", json=body, headers=admin)
        assert response.status_code == 201, response.text
    for sku in (COAT, SCARF):
        response = client.put(
            f"/v1/products/{sku}",
            json={"family": sku[:5], "name": sku, "category": "x", "vat_rate_bp": 2500},
            headers=admin,
        )
        assert response.status_code == 201, response.text
    for location, sku, quantity in (("wh-boras", COAT, 10), ("gbg-avenyn", COAT, 2)):
        receive(client, admin, location, sku, quantity)
    receive(client, admin, "gbg-avenyn", SCARF, 5)


def receive(client: TestClient, headers: Headers, location: str, sku: str, quantity: int) -> None:
    response = client.post(
        f"/v1/inventory/{location}/{sku}/adjustments",
        json={"quantity": quantity, "reason": "receipt", "reference": "delivery-1"},
        headers=headers,
    )
    assert response.status_code == 201, response.text


def stock(client: TestClient, headers: Headers, location: str, sku: str) -> dict[str, Any]:
    response = client.get(f"/v1/inventory/{location}/{sku}", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def adjustment_rows(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(Adjustment)) or 0)


def test_locations_are_created_replaced_and_listed(
    client: TestClient, admin: Headers, agent: Headers, chain: None, session_factory: Any
) -> None:
    gbg = client.get("/v1/locations/gbg-avenyn", headers=agent).json()
    assert gbg["address"]["city"] == "Göteborg"
    assert (gbg["opening_hours"]["mon"], gbg["opening_hours"]["sun"]) == ("10:00-19:00", None)
    renamed = client.put(
        "/v1/locations/gbg-avenyn",
        json={**LOCATIONS["gbg-avenyn"], "name": "Göteborg Avenyn 24"},
        headers=admin,
    )
    assert (renamed.status_code, renamed.json()["name"]) == (200, "Göteborg Avenyn 24")
    codes = [x["code"] for x in client.get("/v1/locations", headers=agent).json()["items"]]
    assert codes == sorted(LOCATIONS)
    stores = client.get("/v1/locations", params={"kind": "store"}, headers=agent).json()
    assert "wh-boras" not in {x["code"] for x in stores["items"]}
    no_pickup = client.get("/v1/locations", params={"pickup": "false"}, headers=agent).json()
    assert [x["code"] for x in no_pickup["items"]] == ["wh-boras"]
    with session_factory() as session:
        changes = session.scalars(
            select(OutboxEvent).where(OutboxEvent.type == "location.changed")
        ).all()
        assert len(changes) == len(LOCATIONS) + 1


def test_nearest_first_from_goteborg(client: TestClient, agent: Headers, chain: None) -> None:
    everything = client.get("/v1/locations/nearby", params=GOTEBORG, headers=agent).json()
    ranked = [(x["code"], x["distance_km"]) for x in everything["items"]]
    assert [code for code, _ in ranked] == [
        "gbg-avenyn",
        "wh-boras",
        "cph-stroget",
        "sthlm-drottninggatan",
    ]
    distance = dict(ranked)
    # Straight-line distances on the ellipsoid: 1.0, 57.6, 229.1 and 398.1 km.
    assert distance["gbg-avenyn"] == pytest.approx(1.0, abs=0.5)
    assert distance["wh-boras"] == pytest.approx(57.6, abs=3)
    assert distance["cph-stroget"] == pytest.approx(229.1, abs=3)
    assert distance["sthlm-drottninggatan"] == pytest.approx(398.1, abs=3)
    assert all(x["available"] is None for x in everything["items"])

    pickup = client.get(
        "/v1/locations/nearby", params={**GOTEBORG, "pickup": "true", "limit": 2}, headers=agent
    ).json()
    assert [x["code"] for x in pickup["items"]] == ["gbg-avenyn", "cph-stroget"]


def test_nearby_tells_the_units_of_a_sku(
    client: TestClient, agent: Headers, chain: None, session_factory: Any
) -> None:
    with unit_of_work(session_factory) as session:
        service.hold(
            session,
            kind=HoldKind.RESERVATION,
            location="gbg-avenyn",
            sku=COAT,
            quantity=1,
            reference="cart:1",
        )
    found = client.get(
        "/v1/locations/nearby", params={**GOTEBORG, "sku": COAT, "pickup": "true"}, headers=agent
    ).json()
    assert [(x["code"], x["available"]) for x in found["items"]] == [
        ("gbg-avenyn", 1),
        ("cph-stroget", 0),
        ("sthlm-drottninggatan", 0),
    ]


def test_availability_at_every_location(
    client: TestClient, agent: Headers, chain: None, session_factory: Any
) -> None:
    with unit_of_work(session_factory) as session:
        service.hold(
            session,
            kind=HoldKind.ALLOCATION,
            location="wh-boras",
            sku=COAT,
            quantity=3,
            reference="order:1",
        )
    response = client.get(f"/v1/products/{COAT}/availability", headers=agent)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["sku"] == COAT
    rows = {x["location"]: x for x in body["locations"]}
    assert set(rows) == set(LOCATIONS)
    assert rows["wh-boras"] == {
        "location": "wh-boras",
        "name": "Warehouse Borås",
        "kind": "warehouse",
        "offers_pickup": False,
        "on_hand": 10,
        "reserved": 0,
        "allocated": 3,
        "available": 7,
    }
    assert (rows["gbg-avenyn"]["available"], rows["gbg-avenyn"]["offers_pickup"]) == (2, True)
    assert (rows["cph-stroget"]["on_hand"], rows["cph-stroget"]["available"]) == (0, 0)


def test_adjustments_counts_and_transfers_are_recorded(
    client: TestClient, admin: Headers, gbg_staff: Headers, chain: None
) -> None:
    sold = client.post(
        f"/v1/inventory/gbg-avenyn/{SCARF}/adjustments",
        json={"quantity": -1, "reason": "sale", "reference": "receipt-4411"},
        headers=gbg_staff,
    )
    assert sold.status_code == 201, sold.text
    assert (sold.json()["on_hand"], sold.json()["available"]) == (4, 4)
    returned = client.post(
        f"/v1/inventory/gbg-avenyn/{SCARF}/adjustments",
        json={"quantity": 1, "reason": "return"},
        headers=gbg_staff,
    )
    assert returned.json()["on_hand"] == 5
    damaged = client.post(
        f"/v1/inventory/gbg-avenyn/{SCARF}/adjustments",
        json={"quantity": -2, "reason": "damage"},
        headers=admin,
    )
    assert damaged.json()["on_hand"] == 3
    counted = client.post(
        f"/v1/inventory/gbg-avenyn/{SCARF}/count", json={"counted": 7}, headers=gbg_staff
    )
    assert counted.status_code == 200, counted.text
    detail = stock(client, admin, "gbg-avenyn", SCARF)
    assert (detail["on_hand"], detail["reserved"], detail["allocated"]) == (7, 0, 0)
    assert [(a["reason"], a["quantity"]) for a in detail["adjustments"]] == [
        ("count", 4),
        ("damage", -2),
        ("return", 1),
        ("sale", -1),
        ("receipt", 5),
    ]
    assert detail["adjustments"][3]["reference"] == "receipt-4411"
    assert detail["adjustments"][0]["actor"] == "test store"

    moved = client.post(
        "/v1/inventory/transfers",
        json={"sku": COAT, "from_location": "wh-boras", "to_location": "gbg-avenyn", "quantity": 4},
        headers=admin,
    )
    assert moved.status_code == 201, moved.text
    body = moved.json()
    assert (body["source"]["on_hand"], body["destination"]["on_hand"]) == (6, 6)
    out = stock(client, admin, "wh-boras", COAT)["adjustments"][0]
    into = stock(client, admin, "gbg-avenyn", COAT)["adjustments"][0]
    assert (out["reason"], out["quantity"], into["reason"], into["quantity"]) == (
        "transfer_out",
        -4,
        "transfer_in",
        4,
    )
    assert out["reference"] == into["reference"] == body["reference"]
    # Store staff send stock out of their own store.
    back = client.post(
        "/v1/inventory/transfers",
        json={"sku": COAT, "from_location": "gbg-avenyn", "to_location": "wh-boras", "quantity": 1},
        headers=gbg_staff,
    )
    assert back.status_code == 201, back.text


def test_stock_at_a_location_is_paged_by_sku(
    client: TestClient, admin: Headers, agent: Headers, chain: None
) -> None:
    for sku in ("COAT-WOOL-GREY-36", "COAT-WOOL-GREY-40", "BOOTS-39"):
        client.put(
            f"/v1/products/{sku}",
            json={"family": "F", "name": sku, "category": "x", "vat_rate_bp": 2500},
            headers=admin,
        )
        receive(client, admin, "gbg-avenyn", sku, 1)
    first = client.get("/v1/inventory/gbg-avenyn", params={"limit": 3}, headers=agent).json()
    second = client.get(
        "/v1/inventory/gbg-avenyn",
        params={"limit": 3, "cursor": first["next_cursor"]},
        headers=agent,
    ).json()
    assert [x["sku"] for x in first["items"] + second["items"]] == [
        "BOOTS-39",
        "COAT-WOOL-GREY-36",
        COAT,
        "COAT-WOOL-GREY-40",
        SCARF,
    ]
    assert second["next_cursor"] is None
    coats = client.get("/v1/inventory/gbg-avenyn", params={"sku": "COAT-"}, headers=agent).json()
    assert [x["sku"] for x in coats["items"]] == ["COAT-WOOL-GREY-36", COAT, "COAT-WOOL-GREY-40"]
    lower = client.get("/v1/inventory/gbg-avenyn", params={"sku": "coat-"}, headers=agent)
    assert lower.json()["items"] == []
    assert coats["items"][1] == {
        "location": "gbg-avenyn",
        "sku": COAT,
        "on_hand": 2,
        "reserved": 0,
        "allocated": 0,
        "available": 2,
        "updated_at": coats["items"][1]["updated_at"],
    }


def test_a_sku_never_stocked_somewhere_reads_as_zero(
    client: TestClient, agent: Headers, chain: None
) -> None:
    empty = stock(client, agent, "cph-stroget", COAT)
    assert (empty["on_hand"], empty["available"], empty["updated_at"]) == (0, 0, None)
    assert empty["adjustments"] == []


def test_taking_more_than_is_available_is_409_and_writes_nothing(
    client: TestClient, admin: Headers, chain: None, session_factory: Any
) -> None:
    before = adjustment_rows(session_factory)
    sale = client.post(
        f"/v1/inventory/gbg-avenyn/{COAT}/adjustments",
        json={"quantity": -3, "reason": "sale"},
        headers=admin,
    )
    assert (sale.status_code, sale.json()["code"]) == (409, "insufficient_stock")
    assert sale.headers["content-type"] == "application/problem+json"
    transfer = client.post(
        "/v1/inventory/transfers",
        json={"sku": COAT, "from_location": "gbg-avenyn", "to_location": "wh-boras", "quantity": 3},
        headers=admin,
    )
    assert (transfer.status_code, transfer.json()["code"]) == (409, "insufficient_stock")
    assert adjustment_rows(session_factory) == before
    assert stock(client, admin, "gbg-avenyn", COAT)["on_hand"] == 2
    assert stock(client, admin, "wh-boras", COAT)["on_hand"] == 10


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/v1/locations/nowhere", "location_not_found"),
        (f"/v1/inventory/nowhere/{COAT}", "location_not_found"),
        ("/v1/inventory/nowhere", "location_not_found"),
        ("/v1/inventory/gbg-avenyn/NOPE-1", "product_not_found"),
        ("/v1/products/NOPE-1/availability", "product_not_found"),
        ("/v1/locations/nearby?lat=57.7&lon=11.9&sku=NOPE-1", "product_not_found"),
    ],
)
def test_unknown_locations_and_skus_are_404(
    client: TestClient, agent: Headers, chain: None, path: str, code: str
) -> None:
    response = client.get(path, headers=agent)
    assert (response.status_code, response.json()["code"]) == (404, code)


def test_unknown_locations_and_skus_are_404_on_writes(
    client: TestClient, admin: Headers, chain: None
) -> None:
    for path in (
        f"/v1/inventory/nowhere/{COAT}/adjustments",
        "/v1/inventory/gbg-avenyn/NOPE-1/adjustments",
    ):
        response = client.post(path, json={"quantity": 1, "reason": "receipt"}, headers=admin)
        assert response.status_code == 404, path
    for body, code in (
        ({"sku": "NOPE-1", "to_location": "gbg-avenyn"}, "product_not_found"),
        ({"sku": COAT, "to_location": "nowhere"}, "location_not_found"),
    ):
        response = client.post(
            "/v1/inventory/transfers",
            json={"from_location": "wh-boras", "quantity": 1, **body},
            headers=admin,
        )
        assert (response.status_code, response.json()["code"]) == (404, code)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"lat": 200, "lon": 11.9}, "lat"),
        ({"lat": 57.7, "lon": -181}, "lon"),
        ({"lon": 11.9}, "lat"),
        ({"lat": 57.7, "lon": 11.9, "limit": 0}, "limit"),
    ],
)
def test_bad_coordinates_are_422_naming_the_field(
    client: TestClient, agent: Headers, params: dict[str, Any], field: str
) -> None:
    response = client.get("/v1/locations/nearby", params=params, headers=agent)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == [f"query.{field}"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"quantity": 0, "reason": "receipt"}, "quantity"),
        ({"quantity": 1, "reason": "magic"}, "reason"),
        ({"quantity": 1, "reason": "count"}, "reason"),
        ({"quantity": 1, "reason": "transfer_in"}, "reason"),
        ({"quantity": 2, "reason": "damage"}, "quantity"),
        ({"quantity": -2, "reason": "receipt"}, "quantity"),
        ({"quantity": 1.5, "reason": "receipt"}, "quantity"),
        ({"reason": "receipt"}, "quantity"),
    ],
)
def test_bad_adjustments_are_422_naming_the_field(
    client: TestClient, admin: Headers, chain: None, body: dict[str, Any], field: str
) -> None:
    response = client.post(f"/v1/inventory/gbg-avenyn/{COAT}/adjustments", json=body, headers=admin)
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == [f"body.{field}"]


def test_bad_counts_transfers_and_locations_are_422(
    client: TestClient, admin: Headers, chain: None
) -> None:
    negative = client.post(
        f"/v1/inventory/gbg-avenyn/{COAT}/count", json={"counted": -1}, headers=admin
    )
    assert negative.status_code == 422
    transfer = {"sku": COAT, "from_location": "wh-boras", "to_location": "gbg-avenyn"}
    for quantity in (0, -1):
        response = client.post(
            "/v1/inventory/transfers", json={**transfer, "quantity": quantity}, headers=admin
        )
        assert response.status_code == 422
    same = client.post(
        "/v1/inventory/transfers",
        json={**transfer, "to_location": "wh-boras", "quantity": 1},
        headers=admin,
    )
    assert (same.status_code, same.json()["code"]) == (422, "same_location")
    store = LOCATIONS["gbg-avenyn"]
    for code, body, field in (
        ("gbg-avenyn", {**store, "latitude": 100}, "body.latitude"),
        ("gbg-avenyn", {**store, "kind": "kiosk"}, "body.kind"),
        ("gbg-avenyn", {**store, "opening_hours": {"mon": "19:00-10:00"}}, "body.opening_hours"),
        ("gbg-avenyn", {**store, "opening_hours": {"someday": None}}, "body.opening_hours"),
        ("gbg-avenyn", {**store, "address": {"city": "Göteborg"}}, "body.address"),
        ("Göteborg", store, "path.code"),
        ("nearby", store, "path.code"),
    ):
        response = client.put(f"/v1/locations/{code}", json=body, headers=admin)
        assert response.status_code == 422, (code, body)
        assert all(e["field"].startswith(field) for e in response.json()["errors"]), response.text


def test_who_may_change_stock(
    client: TestClient,
    admin: Headers,
    agent: Headers,
    gbg_staff: Headers,
    chain: None,
    session_factory: sessionmaker[Session],
) -> None:
    receipt = {"quantity": 1, "reason": "receipt"}
    elsewhere = client.post(
        f"/v1/inventory/sthlm-drottninggatan/{COAT}/adjustments", json=receipt, headers=gbg_staff
    )
    assert (elsewhere.status_code, elsewhere.json()["code"]) == (403, "location_not_allowed")
    assert elsewhere.headers["content-type"] == "application/problem+json"
    count_elsewhere = client.post(
        f"/v1/inventory/wh-boras/{COAT}/count", json={"counted": 0}, headers=gbg_staff
    )
    assert count_elsewhere.status_code == 403
    out_of_another = client.post(
        "/v1/inventory/transfers",
        json={"sku": COAT, "from_location": "wh-boras", "to_location": "gbg-avenyn", "quantity": 1},
        headers=gbg_staff,
    )
    assert (out_of_another.status_code, out_of_another.json()["code"]) == (
        403,
        "location_not_allowed",
    )
    nowhere_staff = bearer(create_secret_key(session_factory, role=Role.STORE))
    assert (
        client.post(
            f"/v1/inventory/gbg-avenyn/{COAT}/adjustments", json=receipt, headers=nowhere_staff
        ).status_code
        == 403
    )
    as_agent = client.post(
        f"/v1/inventory/gbg-avenyn/{COAT}/adjustments", json=receipt, headers=agent
    )
    assert (as_agent.status_code, as_agent.json()["code"]) == (403, "role_not_allowed")
    write_key = basic(create_source(session_factory, name="Tills Göteborg", location="gbg-avenyn"))
    for method, path in (
        ("POST", f"/v1/inventory/gbg-avenyn/{COAT}/adjustments"),
        ("GET", f"/v1/products/{COAT}/availability"),
    ):
        with_write_key = client.request(method, path, json=receipt, headers=write_key)
        assert (with_write_key.status_code, with_write_key.json()["code"]) == (
            403,
            "wrong_key_kind",
        )
        assert client.request(method, path, json=receipt).status_code == 401
    assert (
        client.put("/v1/locations/gbg-avenyn", json=LOCATIONS["gbg-avenyn"], headers=gbg_staff)
    ).status_code == 403
    # Reading is open to any secret key, at any location.
    assert client.get("/v1/inventory/wh-boras", headers=gbg_staff).status_code == 200
    assert stock(client, admin, "sthlm-drottninggatan", COAT)["on_hand"] == 0


def test_malformed_json_is_400(client: TestClient, admin: Headers, chain: None) -> None:
    response = client.post(
        f"/v1/inventory/gbg-avenyn/{COAT}/adjustments",
        content=b'{"quantity": 1, "reason": ',
        headers={**admin, "Content-Type": "application/json"},
    )
    assert (response.status_code, response.json()["code"]) == (400, "malformed_json")


def test_a_replayed_adjustment_adjusts_once(
    client: TestClient, admin: Headers, chain: None, session_factory: Any
) -> None:
    headers = {**admin, "Idempotency-Key": "delivery-77"}
    body = {"quantity": 6, "reason": "receipt", "reference": "delivery-77"}
    path = f"/v1/inventory/cph-stroget/{COAT}/adjustments"
    first = client.post(path, json=body, headers=headers)
    again = client.post(path, json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert stock(client, admin, "cph-stroget", COAT)["on_hand"] == 6


def test_the_demo_has_stores_a_warehouse_and_stock(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    with unit_of_work(session_factory) as session:
        assert demo.load(session)
    staff = bearer("sk_demo_store")
    near = client.get(
        "/v1/locations/nearby",
        params={**GOTEBORG, "pickup": "true", "sku": COAT},
        headers=staff,
    ).json()
    # Göteborg had two of the coat; Anna bought one at its till.
    assert [(x["code"], x["available"]) for x in near["items"]][0] == ("gbg-avenyn", 1)
    assert {x["code"] for x in near["items"]} == set(demo.STORES)
    coffee = client.get("/v1/products/LATTE-OAT-M/availability", headers=staff).json()
    shelves = {x["location"]: x["on_hand"] for x in coffee["locations"]}
    assert shelves["wh-boras"] == 0
    assert all(shelves[code] > 0 for code in demo.STORES)
    coats = client.get(f"/v1/products/{COAT}/availability", headers=staff).json()
    assert all(x["on_hand"] > 0 for x in coats["locations"])
    # The demo store key changes stock in Stockholm only.
    sold = client.post(
        f"/v1/inventory/sthlm-drottninggatan/{COAT}/adjustments",
        json={"quantity": -1, "reason": "sale"},
        headers=staff,
    )
    assert sold.status_code == 201, sold.text
