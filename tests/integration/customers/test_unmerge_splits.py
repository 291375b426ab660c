"""An unmerge splits what the merge joined, as the merge log promises: each person gets
their own cart, conversation and loyalty account back (through HTTP, both databases)."""

import time
from typing import Any

import pytest
from sqlalchemy import select

from omnikanal.auth.models import Channel, Role
from omnikanal.outbox.models import DeliveryKind, DeliveryStatus, OutboxDelivery, OutboxEvent
from tests.factories import bearer, create_secret_key
from tests.integration.commerce.conftest import COAT, LATTE, SCARF, Shop

# The reactions to merges and unmerges (the worker runs the rest, not needed here).
IDENTITY_REACTIONS = ("profile.merged", "profile.unmerged")


def settled(shop: Shop) -> None:
    """Every in-process reaction to a merge or unmerge has run, and none failed."""
    query = (
        select(OutboxDelivery.status, OutboxDelivery.target)
        .join(OutboxEvent, OutboxEvent.id == OutboxDelivery.event_id)
        .where(
            OutboxDelivery.kind == DeliveryKind.HANDLER,
            OutboxEvent.type.in_(IDENTITY_REACTIONS),
        )
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with shop.factory() as session:
            rows = session.execute(query).all()
        assert [t for s, t in rows if s == DeliveryStatus.FAILED] == []
        if all(s == DeliveryStatus.DELIVERED for s, _ in rows):
            return
        time.sleep(0.02)
    pytest.fail(f"handlers did not run: {[t for s, t in rows if s != DeliveryStatus.DELIVERED]}")


def lines(cart: dict[str, Any]) -> set[tuple[str, int]]:
    return {(line["sku"], line["quantity"]) for line in cart["lines"]}


def current_cart(shop: Shop, **person: str) -> dict[str, Any]:
    found: dict[str, Any] = shop.ok(
        shop.client.get("/v1/carts/current", params=person, headers=shop.app)
    )
    return found


def conversations(shop: Shop, profile_id: str) -> list[list[str]]:
    """The bodies of each of the person's conversations."""
    inbox = shop.ok(
        shop.client.get("/v1/conversations", params={"profile_id": profile_id}, headers=shop.agent)
    )
    return [
        [
            m["body"]
            for m in shop.ok(shop.client.get(f"/v1/conversations/{c['id']}", headers=shop.agent))[
                "messages"
            ]
        ]
        for c in inbox["items"]
    ]


def loyalty(shop: Shop, profile_id: str) -> tuple[str | None, int]:
    account = shop.ok(shop.client.get(f"/v1/loyalty/{profile_id}", headers=shop.agent))
    member = account["member"]
    return (member["card_number"] if member else None), account["balance"]


def test_an_unmerge_gives_each_person_their_cart_conversation_and_points_back(
    shop: Shop,
) -> None:
    chat = bearer(create_secret_key(shop.factory, role=Role.CHANNEL, channel=Channel.CHAT))
    email = bearer(create_secret_key(shop.factory, role=Role.CHANNEL, channel=Channel.EMAIL))
    # Anna: a scarf in the app, a chat, the club card and its points.
    anna_cart = shop.ok(
        shop.client.post(
            "/v1/carts",
            json={
                "currency": "SEK",
                "anonymous_id": "anna-phone",
                "email": "anna@example.com",
                "items": [{"sku": SCARF}],
            },
            headers=shop.app,
        ),
        201,
    )
    anna = anna_cart["profile_id"]
    card = shop.ok(shop.client.post(f"/v1/loyalty/{anna}/join", json={}, headers=shop.gbg))
    shop.ok(
        shop.client.post(
            f"/v1/loyalty/{anna}/adjustments",
            json={"points": 120, "note": "welcome"},
            headers=shop.admin,
        ),
        201,
    )
    shop.ok(
        shop.client.post(
            "/v1/conversations/messages",
            json={"body": "Anna: is the scarf warm?", "anonymous_id": "anna-phone"},
            headers=chat,
        ),
        201,
    )
    # Bo: signed in on the web shop, a coat, an email to the shop.
    bo_cart = shop.ok(
        shop.client.post(
            "/v1/carts",
            json={"currency": "SEK", "user_id": "u-bo", "items": [{"sku": COAT}]},
            headers=shop.web,
        ),
        201,
    )
    bo = bo_cart["profile_id"]
    shop.ok(
        shop.client.post(
            "/v1/conversations/messages",
            json={"body": "Bo: where is my coat?", "user_id": "u-bo"},
            headers=email,
        ),
        201,
    )
    settled(shop)

    # Bo types Anna's email while signed in: a wrong merge.
    shop.ok(
        shop.client.post(
            "/v1/identify",
            json={"userId": "u-bo", "traits": {"email": "anna@example.com"}},
            headers=shop.web_events,
        )
    )
    settled(shop)
    merges = shop.ok(shop.client.get(f"/v1/profiles/{bo}/merges", headers=shop.agent))
    assert [(e["action"], e["other_profile_id"]) for e in merges] == [("merged", anna)]
    # One person now: one cart, one conversation, the club account found by either id.
    assert lines(current_cart(shop, user_id="u-bo")) == {(COAT, 1), (SCARF, 1)}
    shop.ok(
        shop.client.put(
            f"/v1/carts/{bo_cart['id']}/items/{LATTE}", json={"quantity": 1}, headers=shop.web
        )
    )
    assert [sorted(c) for c in conversations(shop, bo)] == [
        ["Anna: is the scarf warm?", "Bo: where is my coat?"]
    ]
    assert loyalty(shop, bo) == (card["card_number"], 120)
    assert loyalty(shop, anna) == (card["card_number"], 120)

    shop.ok(shop.client.post(f"/v1/profiles/{bo}/unmerge", headers=shop.agent))
    settled(shop)

    assert shop.ok(shop.client.get(f"/v1/profiles/{anna}", headers=shop.agent))["id"] == anna
    anna_now = current_cart(shop, anonymous_id="anna-phone")
    assert anna_now["profile_id"] == anna
    assert lines(anna_now) == {(SCARF, 1)}
    bo_now = current_cart(shop, user_id="u-bo")
    assert bo_now["profile_id"] == bo
    assert lines(bo_now) == {(COAT, 1), (LATTE, 1)}
    assert conversations(shop, anna) == [["Anna: is the scarf warm?"]]
    assert conversations(shop, bo) == [["Bo: where is my coat?"]]
    assert loyalty(shop, anna) == (card["card_number"], 120)
    assert loyalty(shop, bo) == (None, 0)


def test_carts_joined_inside_a_cart_request_are_split_by_the_unmerge(shop: Shop) -> None:
    anna = shop.ok(
        shop.client.post(
            "/v1/carts",
            json={"currency": "SEK", "email": "anna@example.com", "items": [{"sku": SCARF}]},
            headers=shop.app,
        ),
        201,
    )["profile_id"]
    bo_cart = shop.ok(
        shop.client.post(
            "/v1/carts",
            json={"currency": "SEK", "user_id": "u-bo", "items": [{"sku": COAT}]},
            headers=shop.web,
        ),
        201,
    )
    bo = bo_cart["profile_id"]
    # Signed in as Bo, the shop sends Anna's email with the next cart change: one person,
    # and the cart request itself joins the two carts.
    joined = shop.client.post(
        "/v1/carts",
        json={
            "currency": "SEK",
            "user_id": "u-bo",
            "email": "anna@example.com",
            "items": [{"sku": LATTE}],
        },
        headers=shop.web,
    )
    assert joined.status_code in (200, 201), joined.text
    settled(shop)
    assert lines(current_cart(shop, user_id="u-bo")) == {(COAT, 1), (SCARF, 1), (LATTE, 1)}

    shop.ok(shop.client.post(f"/v1/profiles/{bo}/unmerge", headers=shop.agent))
    settled(shop)

    assert lines(current_cart(shop, email="anna@example.com")) == {(SCARF, 1)}
    assert current_cart(shop, email="anna@example.com")["profile_id"] == anna
    assert lines(current_cart(shop, user_id="u-bo")) == {(COAT, 1), (LATTE, 1)}
