"""Return anywhere (S6): a web order brought back to a store, through HTTP."""

import threading
from typing import Any

from sqlalchemy import select

from omnikanal.outbox.models import OutboxEvent
from tests.integration.commerce.conftest import COAT, GBG, SCARF, STHLM, WAREHOUSE, Shop, delivery


def shipped_web_order(shop: Shop, *skus: str, tenders: list[dict[str, Any]] | None = None) -> Any:
    cart = shop.ok(
        shop.client.post(
            "/v1/carts",
            json={
                "currency": "SEK",
                "email": "anna@example.com",
                "items": [{"sku": sku} for sku in skus],
            },
            headers=shop.web,
        ),
        201,
    )
    order = shop.ok(
        shop.client.post(
            f"/v1/carts/{cart['id']}/checkout",
            json={
                "fulfilment": delivery(),
                "tenders": tenders or [{"type": "card", "reference": "tok_visa_4242"}],
            },
            headers=shop.web,
        ),
        201,
    )
    return shop.ok(shop.client.post(f"/v1/orders/{order['id']}/ship", headers=shop.web))


def give_back(shop: Shop, headers: dict[str, str], order: Any, **lines: int) -> Any:
    return shop.client.post(
        "/v1/returns",
        json={
            "order_id": order["id"],
            "lines": [{"sku": sku, "quantity": n} for sku, n in lines.items()],
            "reason": "too small",
        },
        headers=headers,
    )


def test_a_web_order_returned_in_a_store_puts_stock_back_there_and_refunds_the_card(
    shop: Shop,
) -> None:
    order = shipped_web_order(shop, COAT, SCARF)
    assert shop.stock(WAREHOUSE, COAT) == (19, 0, 0)
    gbg_before = shop.stock(GBG, COAT)

    received = shop.ok(give_back(shop, shop.gbg, order, **{COAT: 1}), 201)
    assert received["location"] == GBG
    assert received["channel"] == "pos"
    assert received["refund_total"] == {"amount": 249_900, "currency": "SEK"}
    assert received["refunds"][0]["tender_type"] == "card"
    assert received["refunds"][0]["reference"] == "tok_visa_4242"
    # The coat is back in Göteborg, not in the warehouse it left from.
    assert shop.stock(GBG, COAT) == (gbg_before[0] + 1, 0, 0)
    assert shop.stock(WAREHOUSE, COAT) == (19, 0, 0)

    now = shop.ok(shop.client.get(f"/v1/orders/{order['id']}", headers=shop.agent))
    coat_line = [line for line in now["lines"] if line["sku"] == COAT][0]
    assert coat_line["returned_quantity"] == 1
    assert now["tenders"][0]["refunded"]["amount"] == 249_900

    with shop.factory() as session:
        events = {
            e.type: e.payload for e in session.scalars(select(OutboxEvent).order_by(OutboxEvent.id))
        }
    # What loyalty reads to reverse points proportionally.
    assert events["return.received"]["refund"] == {"amount": 249_900, "currency": "SEK"}
    assert events["return.received"]["order_total"] == {"amount": 299_800, "currency": "SEK"}
    assert events["refund.issued"]["tender_type"] == "card"

    timeline = shop.ok(
        shop.client.get(f"/v1/profiles/{order['profile_id']}/timeline", headers=shop.agent)
    )
    refunded = [e for e in timeline["items"] if e["name"] == "Order Refunded"][0]
    assert refunded["channel"] == "pos"
    assert refunded["location"] == GBG
    assert refunded["properties"]["total"] == 249_900

    # Returning the coat again is more than was bought.
    again = give_back(shop, shop.sthlm, order, **{COAT: 1})
    assert again.status_code == 422
    assert again.json()["code"] == "return_exceeds_purchase"
    listed = shop.ok(shop.client.get(f"/v1/orders/{order['id']}/returns", headers=shop.agent))
    assert [r["id"] for r in listed] == [received["id"]]


def test_a_return_by_post_goes_back_to_the_warehouse_and_splits_the_refund(shop: Shop) -> None:
    order = shipped_web_order(
        shop,
        COAT,
        SCARF,
        tenders=[
            {
                "type": "gift_card",
                "reference": "GC-77",
                "amount": {"amount": 50_000, "currency": "SEK"},
            },
            {"type": "card", "reference": "tok_mc"},
        ],
    )
    received = shop.client.post(
        "/v1/returns",
        json={
            "order_number": order["number"].lower(),
            "lines": [{"sku": COAT, "quantity": 1}, {"sku": SCARF, "quantity": 1}],
            "location": WAREHOUSE,
        },
        headers=shop.web,
    )
    body = shop.ok(received, 201)
    assert body["location"] == WAREHOUSE
    # The order's tenders in their order: the gift card first, then the card.
    assert [(r["tender_type"], r["amount"]["amount"]) for r in body["refunds"]] == [
        ("gift_card", 50_000),
        ("card", 249_800),
    ]
    assert shop.stock(WAREHOUSE, COAT) == (20, 0, 0)


def test_bad_returns_are_refused_and_change_nothing(shop: Shop) -> None:
    order = shipped_web_order(shop, SCARF)
    before = shop.stock(GBG, SCARF)
    too_many = give_back(shop, shop.gbg, order, **{SCARF: 2})
    assert too_many.status_code == 422
    assert too_many.json()["code"] == "return_exceeds_purchase"
    not_bought = give_back(shop, shop.gbg, order, **{COAT: 1})
    assert not_bought.status_code == 422
    assert not_bought.json()["code"] == "not_in_order"
    zero = give_back(shop, shop.gbg, order, **{SCARF: 0})
    assert zero.status_code == 422
    assert zero.json()["errors"][0]["field"] == "body.lines[0].quantity"
    unknown = shop.client.post(
        "/v1/returns",
        json={
            "order_id": "0190f0f0-0000-7000-8000-000000000000",
            "lines": [{"sku": SCARF, "quantity": 1}],
        },
        headers=shop.gbg,
    )
    assert unknown.status_code == 404
    no_order = shop.client.post(
        "/v1/returns", json={"lines": [{"sku": SCARF, "quantity": 1}]}, headers=shop.gbg
    )
    assert no_order.status_code == 422
    elsewhere = shop.client.post(
        "/v1/returns",
        json={"order_id": order["id"], "lines": [{"sku": SCARF, "quantity": 1}], "location": STHLM},
        headers=shop.gbg,
    )
    assert elsewhere.status_code == 403
    assert shop.stock(GBG, SCARF) == before
    # Not yet handed over: cancel it, do not return it.
    placed = shop.ok(
        shop.client.post(
            "/v1/orders",
            json={
                "currency": "SEK",
                "lines": [{"sku": SCARF, "quantity": 1}],
                "tenders": [{"type": "card"}],
                "fulfilment": delivery(),
                "customer": {"email": "x@example.com"},
            },
            headers=shop.gbg,
        ),
        201,
    )
    early = give_back(shop, shop.gbg, placed, **{SCARF: 1})
    assert early.status_code == 409
    assert early.json()["code"] == "not_returnable"


def test_a_retried_return_is_taken_once(shop: Shop) -> None:
    order = shipped_web_order(shop, SCARF)
    headers = {**shop.gbg, "Idempotency-Key": "return-till-3-0001"}
    first = give_back(shop, headers, order, **{SCARF: 1})
    replay = give_back(shop, headers, order, **{SCARF: 1})
    assert first.status_code == replay.status_code == 201
    assert replay.json()["id"] == first.json()["id"]
    assert shop.stock(GBG, SCARF) == (6, 0, 0)


def test_two_tills_taking_the_same_return_at_once_take_it_once(shop: Shop) -> None:
    order = shipped_web_order(shop, SCARF)
    statuses: list[int] = []

    def take(headers: dict[str, str]) -> None:
        statuses.append(give_back(shop, headers, order, **{SCARF: 1}).status_code)

    threads = [threading.Thread(target=take, args=(h,)) for h in (shop.gbg, shop.sthlm) * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201, 422, 422, 422]
    assert shop.stock(GBG, SCARF)[0] + shop.stock(STHLM, SCARF)[0] == 5 + 1


def points(shop: Shop, profile_id: str) -> int:
    account = shop.ok(shop.client.get(f"/v1/loyalty/{profile_id}", headers=shop.gbg))
    balance: int = account["balance"]
    return balance


def test_points_earned_online_are_reversed_by_a_store_return_and_a_cancellation(
    shop: Shop,
) -> None:
    cart = shop.ok(
        shop.client.post(
            "/v1/carts",
            json={"currency": "SEK", "email": "member@example.com", "items": [{"sku": COAT}]},
            headers=shop.web,
        ),
        201,
    )
    profile_id = cart["profile_id"]
    shop.ok(shop.client.post(f"/v1/loyalty/{profile_id}/join", json={}, headers=shop.gbg))
    shop.ok(
        shop.client.post(f"/v1/carts/{cart['id']}/items", json={"sku": SCARF}, headers=shop.web)
    )
    order = shop.ok(
        shop.client.post(
            f"/v1/carts/{cart['id']}/checkout",
            json={"fulfilment": delivery(), "tenders": [{"type": "card"}]},
            headers=shop.web,
        ),
        201,
    )
    earned = points(shop, profile_id)
    assert earned > 0  # order.placed reached loyalty after the commit
    shop.ok(shop.client.post(f"/v1/orders/{order['id']}/ship", headers=shop.web))
    shop.ok(give_back(shop, shop.gbg, order, **{SCARF: 1}), 201)
    # The scarf was 49,900 of 299,800: a sixth of the points go back.
    assert points(shop, profile_id) == earned - earned * 49_900 // 299_800

    second = shop.ok(
        shop.client.post(
            "/v1/orders",
            json={
                "currency": "SEK",
                "lines": [{"sku": SCARF, "quantity": 1}],
                "tenders": [{"type": "card"}],
                "fulfilment": {"type": "click_and_collect", "location": GBG},
                "customer": {"profile_id": profile_id},
            },
            headers=shop.gbg,
        ),
        201,
    )
    assert second["profile_id"] == profile_id
    before_cancel = points(shop, profile_id)
    assert before_cancel > earned - earned * 49_900 // 299_800
    shop.ok(shop.client.post(f"/v1/orders/{second['id']}/cancel", headers=shop.gbg))
    assert points(shop, profile_id) == earned - earned * 49_900 // 299_800
