"""One cart, one stock, every channel's orders, end to end against a real server (S2, S5,
S6, S7): a coat seen and carted on the laptop, bought from the phone for pickup in
Göteborg, collected there, and returned in Stockholm. Events come from Segment's real
client; carts, orders and returns from the channels' back ends and the stores over HTTP.
"""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import segment.analytics
from sqlalchemy.orm import Session, sessionmaker

from omnikanal.auth.models import Channel, Role
from omnikanal.uow import unit_of_work
from tests.factories import bearer, create_secret_key, create_source
from tests.integration.commerce.conftest import COAT, GBG, STHLM, _catalog, _locations

Json = dict[str, Any]


@pytest.fixture
def http(live_server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server, timeout=30) as client:
        yield client


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def test_a_coat_carted_on_the_laptop_is_bought_on_the_phone_collected_and_returned(
    live_server: str, http: httpx.Client, session_factory: sessionmaker[Session]
) -> None:
    with unit_of_work(session_factory) as session:
        _catalog(session)
        _locations(session)

    def key(role: Role, **kwargs: Any) -> dict[str, str]:
        return bearer(create_secret_key(session_factory, role=role, **kwargs))

    web, app = key(Role.CHANNEL, channel=Channel.WEB), key(Role.CHANNEL, channel=Channel.APP)
    gbg, sthlm = key(Role.STORE, location=GBG), key(Role.STORE, location=STHLM)
    agent = key(Role.AGENT)
    laptop = segment.analytics.Client(
        write_key=create_source(session_factory, channel=Channel.WEB, name="Web shop"),
        host=live_server,
        sync_mode=True,
    )
    phone = segment.analytics.Client(
        write_key=create_source(session_factory, channel=Channel.APP, name="App"),
        host=live_server,
        sync_mode=True,
    )

    # The laptop: a look at the coat, then into the cart; the visit ends.
    assert laptop.track(
        anonymous_id="laptop-e2e", event="Product Viewed", properties={"sku": COAT}
    )[0]
    cart = ok(
        http.post(
            "/v1/carts",
            json={"currency": "SEK", "anonymous_id": "laptop-e2e", "items": [{"sku": COAT}]},
            headers=web,
        ),
        201,
    )
    assert laptop.identify(anonymous_id="laptop-e2e", traits={"email": "anna@example.com"})[0]

    # The phone: Anna logs in; her cart is there, the same one.
    assert phone.identify(
        user_id="anna-e2e", anonymous_id="phone-e2e", traits={"email": "ANNA@example.com"}
    )[0]
    current = ok(http.get("/v1/carts/current", params={"user_id": "anna-e2e"}, headers=app))
    assert current["id"] == cart["id"]
    assert [(line["sku"], line["quantity"]) for line in current["lines"]] == [(COAT, 1)]
    reopened = ok(
        http.post("/v1/carts", json={"currency": "SEK", "anonymous_id": "phone-e2e"}, headers=app)
    )
    assert reopened["id"] == cart["id"]

    # Bought on the phone for pickup in Göteborg; a retried request changes nothing.
    body = {
        "fulfilment": {"type": "click_and_collect", "location": GBG},
        "tenders": [{"type": "card", "reference": "tok_anna"}],
        "email": "anna@example.com",
    }
    retry_safe = {**app, "Idempotency-Key": "anna-phone-checkout-1"}
    order = ok(http.post(f"/v1/carts/{cart['id']}/checkout", json=body, headers=retry_safe), 201)
    replay = http.post(f"/v1/carts/{cart['id']}/checkout", json=body, headers=retry_safe)
    assert replay.json()["id"] == order["id"]
    assert order["channel"] == "app"

    coat_in_gbg = ok(
        http.get(
            f"/v1/products/{COAT}/price", params={"channel": "pos", "currency": "SEK"}, headers=gbg
        )
    )
    assert order["lines"][0]["unit_price"]["amount"] == coat_in_gbg["unit_price"]  # one price

    ok(http.post(f"/v1/orders/{order['id']}/ready", headers=gbg))
    collected = ok(http.post(f"/v1/orders/{order['id']}/collect", headers=gbg))
    assert collected["status"] == "collected"

    # Returned in Stockholm: the coat goes into Stockholm's stock, the money to the card.
    returned = ok(
        http.post(
            "/v1/returns",
            json={"order_number": order["number"], "lines": [{"sku": COAT, "quantity": 1}]},
            headers=sthlm,
        ),
        201,
    )
    assert returned["location"] == STHLM
    assert returned["refunds"][0]["reference"] == "tok_anna"

    profile_id = ok(http.get("/v1/profiles", params={"user_id": "anna-e2e"}, headers=agent))[
        "items"
    ][0]["id"]
    timeline = ok(http.get(f"/v1/profiles/{profile_id}/timeline", headers=agent))["items"]
    story = [(e["name"], e["channel"], e["location"]) for e in reversed(timeline) if e["name"]]
    assert story == [
        ("Product Viewed", "web", None),
        ("Product Added", "web", None),
        ("Order Completed", "app", None),
        ("Order Refunded", "pos", STHLM),
    ]
    orders = ok(http.get("/v1/orders", params={"profile_id": profile_id}, headers=agent))
    assert [(o["number"], o["lines"][0]["returned_quantity"]) for o in orders["items"]] == [
        (order["number"], 1)
    ]
