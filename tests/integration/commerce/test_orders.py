"""Checkout, till sales, click-and-collect, endless aisle and the price audit (S4, S5, S7,
S10, S17), through HTTP on both databases."""

import threading
from datetime import timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import select, update

from omnikanal.commerce import orders
from omnikanal.commerce.models import Order
from omnikanal.kit.time import utcnow
from omnikanal.outbox.models import OutboxEvent
from omnikanal.uow import unit_of_work
from tests.integration.commerce.conftest import (
    CARD,
    COAT,
    GBG,
    LATTE,
    SCARF,
    STHLM,
    WAREHOUSE,
    Shop,
    delivery,
)


def cart_with(shop: Shop, headers: dict[str, str], anonymous_id: str, *skus: str) -> str:
    body = {"currency": "SEK", "anonymous_id": anonymous_id, "items": [{"sku": s} for s in skus]}
    response = shop.client.post("/v1/carts", json=body, headers=headers)
    assert response.status_code in (200, 201), response.text
    cart_id: str = response.json()["id"]
    return cart_id


def checkout(
    shop: Shop, headers: dict[str, str], cart_id: str, fulfilment: dict[str, Any], **extra: Any
) -> Any:
    return shop.client.post(
        f"/v1/carts/{cart_id}/checkout",
        json={"fulfilment": fulfilment, "tenders": CARD, **extra},
        headers=headers,
    )


def till_sale(
    shop: Shop, headers: dict[str, str], lines: list[dict[str, Any]], **extra: Any
) -> Any:
    return shop.client.post(
        "/v1/orders",
        json={"currency": "SEK", "lines": lines, "tenders": [{"type": "cash"}], **extra},
        headers=headers,
    )


def event_types(shop: Shop) -> list[str]:
    with shop.factory() as session:
        return list(session.scalars(select(OutboxEvent.type).order_by(OutboxEvent.id)))


def test_click_and_collect_from_checkout_to_collection(shop: Shop) -> None:
    cart_id = cart_with(shop, shop.web, "laptop-cc", COAT, SCARF)
    response = checkout(
        shop,
        shop.web,
        cart_id,
        {"type": "click_and_collect", "location": GBG},
        email="anna@example.com",
    )
    order = shop.ok(response, 201)
    assert order["status"] == "placed"
    assert order["channel"] == "web"
    assert order["pickup_location"] == GBG
    assert order["total"] == {"amount": 299_800, "currency": "SEK"}
    assert order["vat"] == [{"rate_bp": 2500, "amount": {"amount": 59_960, "currency": "SEK"}}]
    assert order["tenders"][0]["amount"]["amount"] == 299_800
    # Reserved at the pickup store, not yet gone.
    assert shop.stock(GBG, COAT) == (2, 1, 0)
    cart = shop.ok(shop.client.get(f"/v1/carts/{cart_id}", headers=shop.web))
    assert cart["status"] == "checked_out"
    assert cart["order_id"] == order["id"]

    # Only the pickup store's staff hand it over.
    other_store = shop.client.post(f"/v1/orders/{order['id']}/ready", headers=shop.sthlm)
    assert other_store.status_code == 403
    assert other_store.json()["code"] == "not_your_location"
    ready = shop.ok(shop.client.post(f"/v1/orders/{order['id']}/ready", headers=shop.gbg))
    assert ready["status"] == "ready_for_pickup"
    again = shop.client.post(f"/v1/orders/{order['id']}/ready", headers=shop.gbg)
    assert again.status_code == 409
    assert again.json()["code"] == "invalid_transition"
    collected = shop.ok(shop.client.post(f"/v1/orders/{order['id']}/collect", headers=shop.gbg))
    assert collected["status"] == "collected"
    assert shop.stock(GBG, COAT) == (1, 0, 0)
    assert shop.stock(GBG, SCARF) == (4, 0, 0)
    types = event_types(shop)
    for expected in ("order.placed", "order.ready_for_pickup", "order.collected"):
        assert expected in types
    # The order is on the person's timeline and in their orders.
    orders = shop.ok(
        shop.client.get(
            "/v1/orders", params={"profile_id": order["profile_id"]}, headers=shop.agent
        )
    )
    assert [o["id"] for o in orders["items"]] == [order["id"]]
    timeline = shop.ok(
        shop.client.get(f"/v1/profiles/{order['profile_id']}/timeline", headers=shop.agent)
    )
    completed = [e for e in timeline["items"] if e["name"] == "Order Completed"]
    assert completed[0]["properties"]["order_number"] == order["number"]
    assert completed[0]["properties"]["total"] == 299_800


def test_delivery_allocates_from_the_warehouse_then_ships(shop: Shop) -> None:
    cart_id = cart_with(shop, shop.app, "phone-d", COAT)
    order = shop.ok(checkout(shop, shop.app, cart_id, delivery()), 201)
    assert order["lines"][0]["stock_location"] == WAREHOUSE
    assert order["delivery_address"]["city"] == "Göteborg"
    assert shop.stock(WAREHOUSE, COAT) == (20, 0, 1)
    shipped = shop.ok(shop.client.post(f"/v1/orders/{order['id']}/ship", headers=shop.web))
    assert shipped["status"] == "shipped"
    assert shop.stock(WAREHOUSE, COAT) == (19, 0, 0)
    # A delivery is never "collected".
    wrong = shop.client.post(f"/v1/orders/{order['id']}/collect", headers=shop.gbg)
    assert wrong.status_code in (403, 409)


def test_a_cancelled_order_gives_stock_and_money_back(shop: Shop) -> None:
    cart_id = cart_with(shop, shop.web, "laptop-x", SCARF)
    order = shop.ok(
        checkout(shop, shop.web, cart_id, {"type": "click_and_collect", "location": GBG}), 201
    )
    assert shop.stock(GBG, SCARF) == (5, 1, 0)
    cancelled = shop.ok(shop.client.post(f"/v1/orders/{order['id']}/cancel", headers=shop.agent))
    assert cancelled["status"] == "cancelled"
    assert shop.stock(GBG, SCARF) == (5, 0, 0)
    assert cancelled["refunds"][0]["amount"]["amount"] == 49_900
    assert cancelled["tenders"][0]["refunded"]["amount"] == 49_900
    assert "refund.issued" in event_types(shop)
    twice = shop.client.post(f"/v1/orders/{order['id']}/cancel", headers=shop.agent)
    assert twice.status_code == 409


def test_the_till_and_the_web_shop_charge_one_price_and_the_audit_finds_a_till_that_did_not(
    shop: Shop,
) -> None:
    # A promotion that names no channel applies on every channel.
    shop.ok(
        shop.client.post(
            "/v1/promotions",
            json={
                "code": "SCARF-WEEK",
                "name": "Scarf week",
                "kind": "percent",
                "value": 2000,
                "skus": [SCARF],
                "starts_at": "2026-01-01T00:00:00Z",
                "ends_at": "2099-01-01T00:00:00Z",
            },
            headers=shop.admin,
        ),
        201,
    )
    web = shop.ok(
        checkout(shop, shop.web, cart_with(shop, shop.web, "l-p", SCARF), delivery()), 201
    )
    till = shop.ok(till_sale(shop, shop.gbg, [{"sku": SCARF, "quantity": 1}]), 201)
    assert web["lines"][0]["unit_price"] == till["lines"][0]["unit_price"]
    assert till["lines"][0]["unit_price"]["amount"] == 39_920
    assert till["lines"][0]["promotion_code"] == "SCARF-WEEK"
    assert till["status"] == "completed"
    assert till["channel"] == "pos"
    assert till["location"] == GBG
    assert shop.stock(GBG, SCARF) == (4, 0, 0)

    # A Stockholm till rings up the coat at an old price.
    off = shop.ok(
        till_sale(
            shop,
            shop.sthlm,
            [{"sku": COAT, "quantity": 1, "unit_price": 199_900}],
            external_reference="STHLM-T1-0042",
        ),
        201,
    )
    assert off["lines"][0]["book_unit_price"]["amount"] == 249_900
    audit = shop.ok(shop.client.get("/v1/reports/price-audit", headers=shop.analyst))
    assert audit["lines_checked"] == 3
    assert audit["mismatched"] == 1
    assert audit["rows"] == [
        {
            "channel": "pos",
            "sku": COAT,
            "currency": "SEK",
            "lines": 1,
            "mismatched": 1,
            "difference": -50_000,
        }
    ]
    assert audit["mismatches"][0]["order_number"] == off["number"]
    assert audit["mismatches"][0]["location"] == STHLM
    web_only = shop.ok(
        shop.client.get("/v1/reports/price-audit", params={"channel": "web"}, headers=shop.analyst)
    )
    assert web_only["lines_checked"] == 1
    assert web_only["mismatched"] == 0
    assert shop.client.get("/v1/reports/price-audit", headers=shop.gbg).status_code == 403


def test_a_till_sale_is_linked_to_the_person_by_loyalty_card_email_or_phone(shop: Shop) -> None:
    # Anna is known online by her email and card.
    shop.ok(
        shop.client.post(
            "/v1/identify",
            json={
                "userId": "anna-1",
                "traits": {"email": "anna@example.com", "loyalty_card": "7001 0001"},
            },
            headers=shop.web_events,
        )
    )
    profile = shop.ok(
        shop.client.get("/v1/profiles", params={"email": "anna@example.com"}, headers=shop.agent)
    )["items"][0]
    by_card = shop.ok(
        till_sale(
            shop, shop.gbg, [{"sku": LATTE, "quantity": 2}], customer={"loyalty_card": "70010001"}
        ),
        201,
    )
    assert by_card["profile_id"] == profile["id"]
    anonymous = shop.ok(till_sale(shop, shop.gbg, [{"sku": LATTE, "quantity": 1}]), 201)
    assert anonymous["profile_id"] is None
    orders = shop.ok(
        shop.client.get("/v1/orders", params={"profile_id": profile["id"]}, headers=shop.gbg)
    )
    assert [o["number"] for o in orders["items"]] == [by_card["number"]]
    timeline = shop.ok(shop.client.get(f"/v1/profiles/{profile['id']}/timeline", headers=shop.gbg))
    till_entry = [e for e in timeline["items"] if e["name"] == "Order Completed"][0]
    assert till_entry["channel"] == "pos"
    assert till_entry["location"] == GBG


def test_endless_aisle_a_store_orders_for_delivery_from_the_warehouse(shop: Shop) -> None:
    # Stockholm has no scarves; the associate orders one for the customer, delivered.
    assert shop.stock(STHLM, SCARF) == (0, 0, 0)
    order = shop.ok(
        till_sale(
            shop,
            shop.sthlm,
            [{"sku": SCARF, "quantity": 1}],
            fulfilment=delivery(),
            customer={"email": "erik@example.com"},
            tenders=[{"type": "card", "reference": "tok_store"}],
        ),
        201,
    )
    assert order["channel"] == "pos"
    assert order["location"] == STHLM
    assert order["status"] == "placed"
    assert order["lines"][0]["stock_location"] == WAREHOUSE
    assert order["profile_id"] is not None
    # Without a customer there is nobody to deliver to.
    nobody = till_sale(shop, shop.sthlm, [{"sku": SCARF, "quantity": 1}], fulfilment=delivery())
    assert nobody.status_code == 422
    assert nobody.json()["code"] == "identifier_required"


def test_bad_checkouts_are_refused_and_write_nothing(shop: Shop) -> None:
    client = shop.client
    cart_id = cart_with(shop, shop.web, "laptop-bad", COAT, SCARF)
    before = (shop.stock(GBG, COAT), shop.stock(GBG, SCARF), len(event_types(shop)))

    warehouse_pickup = checkout(
        shop, shop.web, cart_id, {"type": "click_and_collect", "location": WAREHOUSE}
    )
    assert warehouse_pickup.status_code == 422
    assert warehouse_pickup.json()["code"] == "pickup_not_offered"
    unknown_store = checkout(
        shop, shop.web, cart_id, {"type": "click_and_collect", "location": "mars-1"}
    )
    assert unknown_store.status_code == 404
    assert unknown_store.json()["code"] == "location_not_found"
    no_address = checkout(shop, shop.web, cart_id, {"type": "delivery"})
    assert no_address.status_code == 422
    assert "address" in no_address.json()["errors"][0]["message"]
    wrong_currency = client.post(
        f"/v1/carts/{cart_id}/checkout",
        json={
            "fulfilment": delivery(),
            "tenders": [{"type": "card", "amount": {"amount": 299_800, "currency": "DKK"}}],
        },
        headers=shop.web,
    )
    assert wrong_currency.status_code == 422
    assert wrong_currency.json()["code"] == "currency_mismatch"
    short = client.post(
        f"/v1/carts/{cart_id}/checkout",
        json={
            "fulfilment": delivery(),
            "tenders": [{"type": "card", "amount": {"amount": 100, "currency": "SEK"}}],
        },
        headers=shop.web,
    )
    assert short.status_code == 422
    assert short.json()["code"] == "tender_mismatch"
    no_tender = client.post(
        f"/v1/carts/{cart_id}/checkout",
        json={"fulfilment": delivery(), "tenders": []},
        headers=shop.web,
    )
    assert no_tender.status_code == 422
    # The coat is there (2), the scarf too, but Göteborg has only 2 coats: ask for 3.
    shop.ok(client.put(f"/v1/carts/{cart_id}/items/{COAT}", json={"quantity": 3}, headers=shop.web))
    too_many = checkout(shop, shop.web, cart_id, {"type": "click_and_collect", "location": GBG})
    assert too_many.status_code == 409
    assert too_many.json()["code"] == "insufficient_stock"
    # Nothing half-written: stock, cart and events are as they were (bar the cart change).
    assert (shop.stock(GBG, COAT), shop.stock(GBG, SCARF)) == before[:2]
    assert len(event_types(shop)) == before[2] + 1  # the quantity change's cart.updated
    assert shop.ok(client.get(f"/v1/carts/{cart_id}", headers=shop.web))["status"] == "active"

    empty = cart_with(shop, shop.app, "phone-empty")
    refused = checkout(shop, shop.app, empty, delivery())
    assert refused.status_code == 422
    assert refused.json()["code"] == "cart_empty"
    assert (
        client.post(
            "/v1/orders",
            json={"currency": "SEK", "lines": [{"sku": COAT, "quantity": -1}], "tenders": CARD},
            headers=shop.gbg,
        ).status_code
        == 422
    )
    unknown_sku = till_sale(shop, shop.gbg, [{"sku": "NOPE", "quantity": 1}])
    assert unknown_sku.status_code == 404
    twice = till_sale(
        shop, shop.gbg, [{"sku": LATTE, "quantity": 1}, {"sku": LATTE, "quantity": 1}]
    )
    assert twice.status_code == 422
    assert twice.json()["code"] == "duplicate_sku"
    elsewhere = till_sale(shop, shop.gbg, [{"sku": LATTE, "quantity": 1}], location=STHLM)
    assert elsewhere.status_code == 403
    assert client.post("/v1/orders", json={}, headers=shop.agent).status_code == 403
    unknown_order = client.get(
        "/v1/orders/0190f0f0-0000-7000-8000-000000000000", headers=shop.agent
    )
    assert unknown_order.status_code == 404
    assert unknown_order.json()["code"] == "order_not_found"


def test_checkout_replays_with_its_idempotency_key_and_never_runs_twice(shop: Shop) -> None:
    cart_id = cart_with(shop, shop.web, "laptop-idem", SCARF)
    headers = {**shop.web, "Idempotency-Key": "checkout-1"}
    first = checkout(shop, headers, cart_id, {"type": "click_and_collect", "location": GBG})
    replay = checkout(shop, headers, cart_id, {"type": "click_and_collect", "location": GBG})
    assert first.status_code == replay.status_code == 201
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["id"] == first.json()["id"]
    assert shop.stock(GBG, SCARF) == (5, 1, 0)
    # Without the key a second checkout of the same cart is refused.
    second = checkout(shop, shop.web, cart_id, {"type": "click_and_collect", "location": GBG})
    assert second.status_code == 409
    assert second.json()["code"] == "cart_not_active"


def test_the_last_units_are_sold_once_across_web_app_and_till(shop: Shop) -> None:
    # Stockholm has 3 coats; 12 buyers on three channels try at once.
    buyers = [(shop.web, f"w{i}") for i in range(4)] + [(shop.app, f"a{i}") for i in range(4)]
    carts = [(headers, cart_with(shop, headers, name, COAT)) for headers, name in buyers]
    results: list[int] = []
    lock = threading.Lock()

    def buy_online(headers: dict[str, str], cart_id: str) -> None:
        status = checkout(
            shop, headers, cart_id, {"type": "click_and_collect", "location": STHLM}
        ).status_code
        with lock:
            results.append(status)

    def buy_at_the_till() -> None:
        status = till_sale(shop, shop.sthlm, [{"sku": COAT, "quantity": 1}]).status_code
        with lock:
            results.append(status)

    threads = [threading.Thread(target=buy_online, args=c) for c in carts]
    threads += [threading.Thread(target=buy_at_the_till) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [201] * 3 + [409] * 9
    on_hand, reserved, allocated = shop.stock(STHLM, COAT)
    assert on_hand - reserved - allocated == 0
    assert on_hand >= 0


def test_a_till_sale_that_joins_two_profiles_brings_both_histories_together(shop: Shop) -> None:
    # Known online by email on the web, and by card in the app: two profiles so far.
    shop.ok(
        shop.client.post(
            "/v1/track",
            json={
                "anonymousId": "web-9",
                "event": "Product Viewed",
                "context": {"traits": {"email": "two@example.com"}},
            },
            headers=shop.web_events,
        )
    )
    shop.ok(
        shop.client.post(
            "/v1/track",
            json={
                "anonymousId": "app-9",
                "event": "Store Searched",
                "context": {"traits": {"loyalty_card": "7009 0009"}},
            },
            headers=shop.app_events,
        )
    )
    sale = shop.ok(
        till_sale(
            shop,
            shop.gbg,
            [{"sku": LATTE, "quantity": 1}],
            customer={"email": "two@example.com", "loyalty_card": "70090009"},
        ),
        201,
    )
    timeline = shop.ok(
        shop.client.get(f"/v1/profiles/{sale['profile_id']}/timeline", headers=shop.agent)
    )
    names = {e["name"] for e in timeline["items"]}
    assert names >= {"Product Viewed", "Store Searched", "Order Completed"}


def test_a_pickup_nobody_came_for_is_called_off_after_the_pickup_window(shop: Shop) -> None:
    waiting = shop.ok(
        checkout(
            shop,
            shop.web,
            cart_with(shop, shop.web, "late-1", SCARF),
            {"type": "click_and_collect", "location": GBG},
        ),
        201,
    )
    fresh = shop.ok(
        checkout(
            shop,
            shop.web,
            cart_with(shop, shop.web, "late-2", SCARF),
            {"type": "click_and_collect", "location": GBG},
        ),
        201,
    )
    assert shop.stock(GBG, SCARF) == (5, 2, 0)
    with unit_of_work(shop.factory) as session:
        session.execute(
            update(Order)
            .where(Order.id == UUID(waiting["id"]))
            .values(placed_at=utcnow() - timedelta(days=8))
        )
    with unit_of_work(shop.factory) as session:
        assert orders.cancel_uncollected(session, older_than=timedelta(days=7)) == 1
    with unit_of_work(shop.factory) as session:
        assert orders.cancel_uncollected(session, older_than=timedelta(days=7)) == 0
    called_off = shop.ok(shop.client.get(f"/v1/orders/{waiting['id']}", headers=shop.agent))
    assert called_off["status"] == "cancelled"
    assert called_off["tenders"][0]["refunded"] == called_off["tenders"][0]["amount"]
    still = shop.ok(shop.client.get(f"/v1/orders/{fresh['id']}", headers=shop.agent))
    assert still["status"] == "placed"
    assert shop.stock(GBG, SCARF) == (5, 1, 0)


def test_a_drawn_order_number_that_an_order_has_is_drawn_again(
    shop: Shop, monkeypatch: Any
) -> None:
    """Order numbers are 40 random bits: among millions of orders a new one can draw a
    number taken. The sale is not refused for it: the number is drawn again."""
    till = {
        "currency": "SEK",
        "lines": [{"sku": LATTE, "quantity": 1}],
        "tenders": [{"type": "cash"}],
    }
    first = shop.ok(shop.client.post("/v1/orders", json=till, headers=shop.sthlm), 201)
    drawn = iter([[first["number"]], ["NK-0000ABCD"]])
    monkeypatch.setattr("omnikanal.commerce.checkout.order_numbers", lambda count: next(drawn))
    second = shop.ok(shop.client.post("/v1/orders", json=till, headers=shop.sthlm), 201)
    assert second["number"] == "NK-0000ABCD"
    assert next(drawn, None) is None  # both draws were used
