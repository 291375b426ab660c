"""Order ahead in the coffee-chain app (S9) and loyalty points earned and spent on any
channel (S8), through HTTP on both databases."""

from typing import Any

from tests.integration.commerce.conftest import (
    CARD,
    COAT,
    GBG,
    LATTE,
    SCARF,
    STHLM,
    Shop,
    delivery,
)

GOTEBORG = {"lat": "57.7089", "lon": "11.9746"}


def member(shop: Shop, headers: dict[str, str], **person: str) -> str:
    """A person who has joined the club; returns their profile id."""
    cart = shop.ok(
        shop.client.post("/v1/carts", json={"currency": "SEK", **person}, headers=headers), 201
    )
    profile_id: str = cart["profile_id"]
    shop.ok(shop.client.post(f"/v1/loyalty/{profile_id}/join", json={}, headers=shop.gbg))
    return profile_id


def balance(shop: Shop, profile_id: str) -> int:
    value: int = shop.ok(shop.client.get(f"/v1/loyalty/{profile_id}", headers=shop.agent))[
        "balance"
    ]
    return value


def order_ahead(shop: Shop, anonymous_id: str, store: str) -> Any:
    cart = shop.client.post(
        "/v1/carts",
        json={
            "currency": "SEK",
            "anonymous_id": anonymous_id,
            "items": [{"sku": LATTE, "quantity": 2}],
        },
        headers=shop.app,
    ).json()
    return shop.ok(
        shop.client.post(
            f"/v1/carts/{cart['id']}/checkout",
            json={"fulfilment": {"type": "click_and_collect", "location": store}, "tenders": CARD},
            headers=shop.app,
        ),
        201,
    )


def test_order_ahead_from_nearby_store_to_collection(shop: Shop) -> None:
    client = shop.client
    # The app finds the stores near the customer and what each has now.
    near = shop.ok(
        client.get(
            "/v1/locations/nearby",
            params={**GOTEBORG, "pickup": "true", "sku": LATTE},
            headers=shop.app,
        )
    )
    assert [(x["code"], x["available"]) for x in near["items"]][0] == (GBG, 50)

    profile_id = member(shop, shop.app, anonymous_id="cup-1")
    earlier = order_ahead(shop, "cup-2", GBG)  # someone else ordered first
    mine = order_ahead(shop, "cup-1", GBG)
    assert mine["profile_id"] == profile_id
    assert shop.stock(GBG, LATTE) == (50, 4, 0)

    queue = shop.ok(client.get(f"/v1/locations/{GBG}/pickups", headers=shop.gbg))
    assert [o["id"] for o in queue] == [earlier["id"], mine["id"]]
    arrived = shop.ok(client.post(f"/v1/orders/{mine['id']}/arrived", headers=shop.app))
    assert arrived["arrived_at"] is not None
    queue = shop.ok(client.get(f"/v1/locations/{GBG}/pickups", headers=shop.gbg))
    assert [o["id"] for o in queue] == [mine["id"], earlier["id"]]  # arrived first

    for step, status in (("preparing", "preparing"), ("ready", "ready_for_pickup")):
        moved = shop.ok(client.post(f"/v1/orders/{mine['id']}/{step}", headers=shop.gbg))
        assert moved["status"] == status
    told = shop.ok(client.get(f"/v1/profiles/{profile_id}/notifications", headers=shop.agent))
    assert [(n["kind"], n["channel"], n["status"]) for n in told["items"]] == [
        ("order_ready_for_pickup", "push", "queued")
    ]
    assert "Göteborg Avenyn" in told["items"][0]["body"]
    collected = shop.ok(client.post(f"/v1/orders/{mine['id']}/collect", headers=shop.gbg))
    assert collected["status"] == "collected"
    assert shop.stock(GBG, LATTE) == (48, 2, 0)
    queue = shop.ok(client.get(f"/v1/locations/{GBG}/pickups", headers=shop.gbg))
    assert [o["id"] for o in queue] == [earlier["id"]]

    assert balance(shop, profile_id) == 98  # 98 SEK spent, a point a krona
    profile = shop.ok(client.get(f"/v1/profiles/{profile_id}", headers=shop.agent))
    habits = profile["computed_traits"]
    assert habits["favourite_store"] == GBG
    assert habits["favourite_products"] == [LATTE]
    assert habits["preferred_channel"] == "app"
    assert habits["usual_order_time"].endswith(":00")
    assert habits["orders"] == 1

    # Other stores do not see or handle this store's queue.
    assert client.get(f"/v1/locations/{GBG}/pickups", headers=shop.sthlm).status_code == 403
    late = client.post(f"/v1/orders/{mine['id']}/arrived", headers=shop.app)
    assert late.status_code == 409
    assert late.json()["code"] == "invalid_transition"


def test_points_earned_online_are_spent_at_a_till_and_come_back_on_a_return(shop: Shop) -> None:
    client = shop.client
    profile_id = member(shop, shop.web, email="points@example.com")
    cart = shop.ok(
        client.post(
            "/v1/carts",
            json={"currency": "SEK", "email": "points@example.com", "items": [{"sku": COAT}]},
            headers=shop.web,
        )
    )
    shop.ok(
        client.post(
            f"/v1/carts/{cart['id']}/checkout",
            json={"fulfilment": delivery(), "tenders": CARD},
            headers=shop.web,
        ),
        201,
    )
    assert balance(shop, profile_id) == 2499

    # At the Göteborg till the member pays 100 points (10 SEK) and the rest by card.
    sale = shop.ok(
        client.post(
            "/v1/orders",
            json={
                "currency": "SEK",
                "lines": [{"sku": SCARF, "quantity": 1}],
                "customer": {"email": "POINTS@example.com"},
                "tenders": [{"type": "loyalty_points", "points": 100}, {"type": "card"}],
            },
            headers=shop.gbg,
        ),
        201,
    )
    assert [(t["type"], t["amount"]["amount"], t["points"]) for t in sale["tenders"]] == [
        ("loyalty_points", 1_000, 100),
        ("card", 48_900, None),
    ]
    # 100 spent; 489 earned on the 489 SEK paid by card (none on what points paid).
    assert balance(shop, profile_id) == 2499 - 100 + 489

    # Returned in Stockholm: the points tender gets its points back, the card the rest,
    # and the points the sale earned are taken back.
    returned = shop.ok(
        client.post(
            "/v1/returns",
            json={"order_id": sale["id"], "lines": [{"sku": SCARF, "quantity": 1}]},
            headers=shop.sthlm,
        ),
        201,
    )
    assert [(r["tender_type"], r["amount"]["amount"]) for r in returned["refunds"]] == [
        ("loyalty_points", 1_000),
        ("card", 48_900),
    ]
    assert balance(shop, profile_id) == 2499
    ledger = shop.ok(client.get(f"/v1/loyalty/{profile_id}", headers=shop.agent))["ledger"]
    assert {e["reason"] for e in ledger} >= {"earn", "redeem", "refund_redemption", "reverse"}


def test_paying_with_points_that_are_not_there_changes_nothing(shop: Shop) -> None:
    client = shop.client
    profile_id = member(shop, shop.web, email="few@example.com")
    stock_before = shop.stock(STHLM, LATTE)

    def pay(points: int, **extra: Any) -> Any:
        return client.post(
            "/v1/orders",
            json={
                "currency": "SEK",
                "lines": [{"sku": LATTE, "quantity": 1}],
                "tenders": [{"type": "loyalty_points", "points": points}, {"type": "card"}],
                **extra,
            },
            headers=shop.sthlm,
        )

    too_many = pay(50, customer={"email": "few@example.com"})
    assert too_many.status_code == 422
    assert too_many.json()["code"] == "insufficient_points"
    anonymous = pay(1)
    assert anonymous.status_code == 422
    assert anonymous.json()["code"] == "identifier_required"
    not_member = pay(1, customer={"email": "stranger@example.com"})
    assert not_member.status_code == 404
    assert not_member.json()["code"] == "not_a_member"
    mixed = client.post(
        "/v1/orders",
        json={
            "currency": "SEK",
            "lines": [{"sku": LATTE, "quantity": 1}],
            "tenders": [{"type": "loyalty_points", "amount": {"amount": 100, "currency": "SEK"}}],
        },
        headers=shop.sthlm,
    )
    assert mixed.status_code == 422
    assert shop.stock(STHLM, LATTE) == stock_before
    assert balance(shop, profile_id) == 0
    orders = shop.ok(
        client.get("/v1/orders", params={"profile_id": profile_id}, headers=shop.agent)
    )
    assert orders["items"] == []
