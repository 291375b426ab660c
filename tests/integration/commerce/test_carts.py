"""Carts that follow the person across devices (S2), priced from the one price book."""

from typing import Any

from tests.integration.commerce.conftest import CARD, COAT, SCARF, Shop


def open_cart(shop: Shop, headers: dict[str, str], **body: Any) -> Any:
    response = shop.client.post("/v1/carts", json={"currency": "SEK", **body}, headers=headers)
    assert response.status_code in (200, 201), response.text
    return response.json()


def identify(shop: Shop, headers: dict[str, str], anonymous_id: str, email: str) -> None:
    shop.ok(
        shop.client.post(
            "/v1/identify",
            json={"anonymousId": anonymous_id, "traits": {"email": email}},
            headers=headers,
        )
    )


def test_the_laptop_cart_and_the_phone_cart_become_one(shop: Shop) -> None:
    laptop = open_cart(shop, shop.web, anonymous_id="laptop-1", items=[{"sku": COAT}])
    phone = open_cart(shop, shop.app, anonymous_id="phone-1", items=[{"sku": COAT, "quantity": 2}])
    shop.ok(
        shop.client.post(f"/v1/carts/{phone['id']}/items", json={"sku": SCARF}, headers=shop.app)
    )
    assert laptop["id"] != phone["id"]
    assert laptop["profile_id"] != phone["profile_id"]

    # Both devices turn out to be Anna's: her profiles merge, and so do her carts.
    identify(shop, shop.web_events, "laptop-1", "anna@example.com")
    identify(shop, shop.app_events, "phone-1", "Anna@Example.com")

    found = shop.ok(
        shop.client.get("/v1/carts/current", params={"anonymous_id": "laptop-1"}, headers=shop.web)
    )
    by_email = shop.ok(
        shop.client.get(
            "/v1/carts/current", params={"email": "ANNA@example.com"}, headers=shop.agent
        )
    )
    assert found["id"] == by_email["id"] == phone["id"]  # the cart changed last survives
    assert {line["sku"]: line["quantity"] for line in found["lines"]} == {COAT: 2, SCARF: 1}
    # The laptop's old cart id answers with the cart it joined.
    assert (
        shop.ok(shop.client.get(f"/v1/carts/{laptop['id']}", headers=shop.web))["id"]
        == (phone["id"])
    )
    # Opening a cart on the laptop again finds the same cart, not a new one.
    again = shop.client.post(
        "/v1/carts", json={"currency": "SEK", "anonymous_id": "laptop-1"}, headers=shop.web
    )
    assert again.status_code == 200
    assert again.json()["id"] == phone["id"]


def test_carts_show_the_merged_view_before_the_merge_handler_ran(shop: Shop) -> None:
    # Ingestion answers before handlers run; a read in between must already show one cart.
    open_cart(shop, shop.web, anonymous_id="laptop-2", items=[{"sku": SCARF, "quantity": 3}])
    phone = open_cart(shop, shop.app, anonymous_id="phone-2", items=[{"sku": SCARF}])
    # The merge handlers run after the resolver's commit: not at all here.
    shop.client.app.state.resolver.after_commit = None  # type: ignore[attr-defined]
    identify(shop, shop.web_events, "laptop-2", "bo@example.com")
    identify(shop, shop.app_events, "phone-2", "bo@example.com")
    found = shop.ok(
        shop.client.get("/v1/carts/current", params={"email": "bo@example.com"}, headers=shop.web)
    )
    assert found["lines"][0]["quantity"] == 3  # the larger quantity wins
    assert len(found["merged_cart_ids"]) == 1
    # The next change merges them for good.
    shop.ok(
        shop.client.post(f"/v1/carts/{phone['id']}/items", json={"sku": COAT}, headers=shop.app)
    )
    after = shop.ok(shop.client.get(f"/v1/carts/{phone['id']}", headers=shop.app))
    assert after["merged_cart_ids"] == []
    assert {line["sku"]: line["quantity"] for line in after["lines"]} == {SCARF: 3, COAT: 1}


def test_lines_are_priced_when_read_and_say_when_the_price_moved(shop: Shop) -> None:
    cart = open_cart(shop, shop.web, anonymous_id="laptop-3", items=[{"sku": COAT}])
    line = cart["lines"][0]
    assert line["unit_price"] == {"amount": 249_900, "currency": "SEK"}
    assert line["price_changed"] is False
    assert cart["vat"] == [{"rate_bp": 2500, "amount": {"amount": 49_980, "currency": "SEK"}}]

    shop.ok(
        shop.client.post(
            f"/v1/products/{COAT}/prices",
            json={"currency": "SEK", "amount": 199_900},
            headers=shop.admin,
        ),
        201,
    )
    repriced = shop.ok(shop.client.get(f"/v1/carts/{cart['id']}", headers=shop.web))
    assert repriced["lines"][0]["unit_price"]["amount"] == 199_900
    assert repriced["lines"][0]["unit_price_when_added"]["amount"] == 249_900
    assert repriced["price_changed"] is True
    assert repriced["total"] == {"amount": 199_900, "currency": "SEK"}


def test_cart_changes_go_on_the_persons_timeline(shop: Shop) -> None:
    cart = open_cart(shop, shop.web, anonymous_id="laptop-4", items=[{"sku": COAT}])
    cart_id = cart["id"]
    shop.ok(
        shop.client.put(f"/v1/carts/{cart_id}/items/{COAT}", json={"quantity": 3}, headers=shop.web)
    )
    shop.ok(shop.client.delete(f"/v1/carts/{cart_id}/items/{COAT}", headers=shop.web))
    timeline = shop.ok(
        shop.client.get(f"/v1/profiles/{cart['profile_id']}/timeline", headers=shop.agent)
    )
    events = [(e["name"], e["properties"]["quantity"]) for e in timeline["items"]]
    assert events == [("Product Removed", 3), ("Product Added", 2), ("Product Added", 1)]
    assert {e["channel"] for e in timeline["items"]} == {"web"}
    assert timeline["items"][0]["source"] == "test channel"
    emptied = shop.ok(shop.client.get(f"/v1/carts/{cart_id}", headers=shop.web))
    assert emptied["lines"] == []


def test_bad_cart_requests_are_refused_and_change_nothing(shop: Shop) -> None:
    client = shop.client
    no_person = client.post("/v1/carts", json={"currency": "SEK"}, headers=shop.web)
    assert no_person.status_code == 422
    assert no_person.json()["code"] == "identifier_required"

    cart = open_cart(shop, shop.web, anonymous_id="laptop-5")
    unknown_sku = client.post(
        f"/v1/carts/{cart['id']}/items", json={"sku": "NOPE-1"}, headers=shop.web
    )
    assert unknown_sku.status_code == 404
    assert unknown_sku.json()["code"] == "product_not_found"
    zero = client.post(
        f"/v1/carts/{cart['id']}/items", json={"sku": COAT, "quantity": 0}, headers=shop.web
    )
    assert zero.status_code == 422
    assert zero.json()["errors"][0]["field"] == "body.quantity"
    wrong_type = client.post(
        f"/v1/carts/{cart['id']}/items", json={"sku": COAT, "quantity": "two"}, headers=shop.web
    )
    assert wrong_type.status_code == 422
    malformed = client.post(
        f"/v1/carts/{cart['id']}/items",
        content=b'{"sku": ',
        headers={**shop.web, "content-type": "application/json"},
    )
    assert malformed.status_code == 400
    other_currency = client.post(
        "/v1/carts", json={"currency": "DKK", "anonymous_id": "laptop-5"}, headers=shop.web
    )
    assert other_currency.status_code == 409
    assert other_currency.json()["code"] == "currency_mismatch"
    no_price = client.post(
        "/v1/carts",
        json={"currency": "EUR", "anonymous_id": "x-9", "items": [{"sku": COAT}]},
        headers=shop.web,
    )
    assert no_price.status_code == 422
    assert no_price.json()["code"] == "no_price"
    unknown_cart = client.get("/v1/carts/0190f0f0-0000-7000-8000-000000000000", headers=shop.web)
    assert unknown_cart.status_code == 404
    assert unknown_cart.json()["code"] == "cart_not_found"
    nobody = client.get("/v1/carts/current", params={"email": "no@one.se"}, headers=shop.web)
    assert nobody.status_code == 404
    two_ids = client.get(
        "/v1/carts/current", params={"email": "a@b.se", "user_id": "u"}, headers=shop.web
    )
    assert two_ids.status_code == 400
    # Write keys ingest only; analysts do not touch carts.
    assert client.post("/v1/carts", json={}, headers=shop.web_events).status_code == 403
    assert client.get(f"/v1/carts/{cart['id']}", headers=shop.analyst).status_code == 403
    assert shop.ok(client.get(f"/v1/carts/{cart['id']}", headers=shop.web))["lines"] == []


def test_a_checked_out_cart_cannot_change(shop: Shop) -> None:
    cart = open_cart(shop, shop.web, anonymous_id="laptop-6", items=[{"sku": SCARF}])
    shop.ok(
        shop.client.post(
            f"/v1/carts/{cart['id']}/checkout",
            json={
                "fulfilment": {"type": "click_and_collect", "location": "gbg-avenyn"},
                "tenders": CARD,
            },
            headers=shop.web,
        ),
        201,
    )
    late = shop.client.post(f"/v1/carts/{cart['id']}/items", json={"sku": COAT}, headers=shop.web)
    assert late.status_code == 409
    assert late.json()["code"] == "cart_not_active"
    # The person's next cart is a new one.
    fresh = shop.client.post(
        "/v1/carts", json={"currency": "SEK", "anonymous_id": "laptop-6"}, headers=shop.web
    )
    assert fresh.status_code == 201
    assert fresh.json()["id"] != cart["id"]
