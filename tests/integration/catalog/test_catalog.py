"""The catalog through HTTP: one description, one price on every channel (S4)."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from omnikanal.auth.models import Role
from tests.factories import bearer, create_secret_key

Headers = dict[str, str]

COAT = {
    "family": "COAT-WOOL",
    "name": "Wool coat, grey",
    "description": "Boiled wool, lined.",
    "category": "coats",
    "attributes": {"size": "38", "colour": "grey"},
    "image_urls": ["https://images.example.com/coat-grey.jpg"],
    "vat_rate_bp": 2500,
}


@pytest.fixture
def admin(session_factory: sessionmaker[Session]) -> Headers:
    return bearer(create_secret_key(session_factory))


@pytest.fixture
def agent(session_factory: sessionmaker[Session]) -> Headers:
    return bearer(create_secret_key(session_factory, role=Role.AGENT))


@pytest.fixture
def coat(client: TestClient, admin: Headers) -> str:
    created = client.put("/v1/products/COAT-WOOL-GREY-38", json=COAT, headers=admin)
    assert created.status_code == 201, created.text
    priced = client.post(
        "/v1/products/COAT-WOOL-GREY-38/prices",
        json={"currency": "SEK", "amount": 249_900, "valid_from": "2026-01-01T00:00:00Z"},
        headers=admin,
    )
    assert priced.status_code == 201, priced.text
    return "COAT-WOOL-GREY-38"


def quote(client: TestClient, headers: Headers, sku: str, **params: str) -> dict[str, Any]:
    response = client.get(f"/v1/products/{sku}/price", params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_one_description_and_one_price_for_every_channel(
    client: TestClient, admin: Headers, agent: Headers, coat: str
) -> None:
    product = client.get(f"/v1/products/{coat}", headers=agent).json()
    assert product["attributes"] == {"size": "38", "colour": "grey"}
    assert product["prices"][0]["amount"] == 249_900
    prices = {
        quote(client, agent, coat, channel=c, currency="SEK")["unit_price"]
        for c in ("web", "app", "pos")
    }
    assert prices == {249_900}
    sek = quote(client, agent, coat, channel="pos", currency="SEK")
    assert (sek["vat_rate_bp"], sek["vat_amount"]) == (2500, 49_980)
    # Replacing the description keeps the SKU and answers 200.
    renamed = client.put(f"/v1/products/{coat}", json={**COAT, "name": "Coat"}, headers=admin)
    assert (renamed.status_code, renamed.json()["name"]) == (200, "Coat")


def test_price_changes_are_kept_so_past_prices_can_be_told(
    client: TestClient, admin: Headers, agent: Headers, coat: str
) -> None:
    change = datetime.now(UTC) + timedelta(hours=1)
    client.post(
        f"/v1/products/{coat}/prices",
        json={"currency": "SEK", "amount": 199_900, "valid_from": change.isoformat()},
        headers=admin,
    )
    assert quote(client, agent, coat, channel="web", currency="SEK")["list_price"] == 249_900
    later = (change + timedelta(minutes=1)).isoformat()
    assert quote(client, agent, coat, channel="web", currency="SEK", at=later)["list_price"] == (
        199_900
    )


def test_promotions_apply_everywhere_unless_limited_on_purpose(
    client: TestClient, admin: Headers, agent: Headers, coat: str, session_factory: Any
) -> None:
    marketer = bearer(create_secret_key(session_factory, role=Role.MARKETER))
    window = {
        "starts_at": (datetime.now(UTC) - timedelta(days=1)).isoformat(),
        "ends_at": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
    }
    everywhere = client.post(
        "/v1/promotions",
        json={
            "code": "WINTER10",
            "name": "Winter",
            "kind": "percent",
            "value": 1000,
            "categories": ["coats"],
            **window,
        },
        headers=marketer,
    )
    assert everywhere.status_code == 201, everywhere.text
    app_only = client.post(
        "/v1/promotions",
        json={
            "code": "APP25",
            "name": "App week",
            "kind": "percent",
            "value": 2500,
            "skus": [coat],
            "channels": ["app"],
            **window,
        },
        headers=marketer,
    )
    assert app_only.json()["channels"] == ["app"]
    web = quote(client, agent, coat, channel="web", currency="SEK")
    pos = quote(client, agent, coat, channel="pos", currency="SEK")
    app = quote(client, agent, coat, channel="app", currency="SEK")
    assert web["unit_price"] == pos["unit_price"] == 224_910
    assert (app["unit_price"], app["promotion_code"]) == (187_425, "APP25")
    live = client.get("/v1/promotions", params={"live_at": window["starts_at"]}, headers=agent)
    assert {p["code"] for p in live.json()} == {"WINTER10", "APP25"}
    again = client.post(
        "/v1/promotions",
        json={
            "code": "WINTER10",
            "name": "Again",
            "kind": "percent",
            "value": 1000,
            "categories": ["coats"],
            **window,
        },
        headers=marketer,
    )
    assert (again.status_code, again.json()["code"]) == (409, "promotion_exists")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "percent", "value": 20_000, "skus": ["X"]}, "value"),
        ({"kind": "fixed", "value": 100, "skus": ["X"]}, "currency"),
        ({"kind": "percent", "value": 100}, "skus"),
        ({"kind": "percent", "value": 100, "skus": ["X"], "channels": ["fax"]}, "channels"),
    ],
)
def test_bad_promotions_name_the_field(
    client: TestClient, admin: Headers, body: dict[str, Any], field: str
) -> None:
    window = {"starts_at": "2026-01-01T00:00:00Z", "ends_at": "2026-02-01T00:00:00Z"}
    response = client.post(
        "/v1/promotions", json={"code": "P", "name": "P", **window, **body}, headers=admin
    )
    assert response.status_code == 422
    assert field in response.text


def test_unknown_products_missing_prices_and_roles(
    client: TestClient, admin: Headers, agent: Headers, coat: str
) -> None:
    missing = client.get("/v1/products/NOPE-1", headers=agent)
    assert (missing.status_code, missing.json()["code"]) == (404, "product_not_found")
    no_price = client.post(
        "/v1/products/NOPE-1/prices", json={"currency": "SEK", "amount": 100}, headers=admin
    )
    assert no_price.status_code == 404
    euros = client.get(
        f"/v1/products/{coat}/price", params={"channel": "web", "currency": "EUR"}, headers=agent
    )
    assert (euros.status_code, euros.json()["code"]) == (422, "no_price")
    for bad in ({"currency": "SEK", "amount": 0}, {"currency": "kr", "amount": 100}):
        response = client.post(f"/v1/products/{coat}/prices", json=bad, headers=admin)
        assert response.status_code == 422
    assert client.put(f"/v1/products/{coat}", json=COAT, headers=agent).status_code == 403
    assert client.put("/v1/products/bad sku!", json=COAT, headers=admin).status_code in (404, 422)


def test_products_page_by_category(client: TestClient, admin: Headers, agent: Headers) -> None:
    for size in ("36", "38", "40"):
        client.put(
            f"/v1/products/COAT-{size}",
            json={**COAT, "attributes": {"size": size}},
            headers=admin,
        )
    client.put("/v1/products/LATTE-1", json={**COAT, "category": "coffee"}, headers=admin)
    first = client.get("/v1/products", params={"category": "coats", "limit": 2}, headers=agent)
    second = client.get(
        "/v1/products",
        params={"category": "coats", "limit": 2, "cursor": first.json()["next_cursor"]},
        headers=agent,
    ).json()
    skus = [p["sku"] for p in first.json()["items"] + second["items"]]
    assert skus == ["COAT-36", "COAT-38", "COAT-40"]
    assert second["next_cursor"] is None
