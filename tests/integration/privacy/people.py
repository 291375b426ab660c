"""A person who touched many domains, and a way to run erasure jobs as the worker would."""

from typing import Any

from fastapi import FastAPI

from omnikanal.auth.models import Role
from omnikanal.privacy.erasure import STEP
from tests.factories import bearer, create_secret_key
from tests.integration.commerce.conftest import CARD, COAT, GBG, SCARF, Shop, delivery
from tests.integration.conversations.conftest import Desk
from tests.integration.marketing.conftest import run_later
from tests.integration.marketing.test_audiences_and_campaigns import person

EMAIL = "anna.berg@example.com"
PHONE = "+46701234567"
FIRST, LAST = "Annika", "Bergqvist"


def headers_of(shop: Shop, role: Role) -> dict[str, str]:
    return bearer(create_secret_key(shop.factory, role=role))


# A person identified on the web, by their anonymous id and traits: their profile id.
identify = person


def cart(shop: Shop, anonymous_id: str, *skus: str) -> str:
    body = {"currency": "SEK", "anonymous_id": anonymous_id, "items": [{"sku": s} for s in skus]}
    response = shop.client.post("/v1/carts", json=body, headers=shop.web)
    assert response.status_code in (200, 201), response.text
    cart_id: str = response.json()["id"]
    return cart_id


def everything_of_anna(shop: Shop, desk: Desk, app: FastAPI) -> dict[str, Any]:
    """Anna: web profile with consent, a reminder email for a cart left behind, then an
    order with a delivery address, loyalty points, a chat, and a cart still open."""
    profile_id = identify(
        shop,
        "laptop-1",
        email=EMAIL,
        phone="070-123 45 67",
        first_name=FIRST,
        last_name=LAST,
        city="Göteborg",
        consents={"marketing": {"email": True}},
    )
    joined = shop.client.post(f"/v1/loyalty/{profile_id}/join", json={}, headers=shop.gbg)
    assert joined.status_code in (200, 201), joined.text
    left = cart(shop, "laptop-1", COAT)
    run_later(app)  # the abandoned-cart reminder is written to mail/*.eml
    address = delivery()
    address["address"] = {**address["address"], "name": f"{FIRST} {LAST}", "phone": PHONE}
    order = shop.ok(
        shop.client.post(
            f"/v1/carts/{left}/checkout",
            json={"fulfilment": address, "tenders": CARD, "email": EMAIL},
            headers=shop.web,
        ),
        201,
    )
    open_cart = cart(shop, "laptop-1", SCARF)
    chat = desk.ok(
        desk.message(
            desk.chat,
            f"Hi, {FIRST} {LAST} here, call me on 070-123 45 67 about order {order['number']}",
            anonymous_id="laptop-1",
            email=EMAIL,
        ),
        201,
    )
    return {
        "profile_id": profile_id,
        "order": order,
        "cart_id": open_cart,
        "conversation_id": chat["conversation_id"],
        "store": GBG,
    }


def run_erasure(app: FastAPI, rounds: int = 40) -> None:
    run_later(app, rounds=rounds, kinds=(STEP,))
