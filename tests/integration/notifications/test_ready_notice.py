"""The "ready for pickup" notice: to the checkout's address, else the person's own, else
recorded as suppressed with the reason (never dropped silently)."""

from typing import Any

from tests.integration.commerce.conftest import CARD, GBG, LATTE, Shop


def _web_pickup_without_email(shop: Shop, **person: str) -> tuple[str, Any]:
    cart = shop.ok(
        shop.client.post(
            "/v1/carts",
            json={"currency": "SEK", **person, "items": [{"sku": LATTE, "quantity": 1}]},
            headers=shop.web,
        ),
        201,
    )
    order = shop.ok(
        shop.client.post(
            f"/v1/carts/{cart['id']}/checkout",
            json={"fulfilment": {"type": "click_and_collect", "location": GBG}, "tenders": CARD},
            headers=shop.web,
        ),
        201,
    )
    for step in ("preparing", "ready"):
        shop.ok(shop.client.post(f"/v1/orders/{order['id']}/{step}", headers=shop.gbg))
    told = shop.ok(
        shop.client.get(f"/v1/profiles/{cart['profile_id']}/notifications", headers=shop.agent)
    )
    return cart["profile_id"], told["items"]


def test_the_notice_goes_to_the_persons_own_email_when_the_checkout_gave_none(
    shop: Shop,
) -> None:
    _, notices = _web_pickup_without_email(shop, anonymous_id="lap-n1", email="Ida@Example.com")
    assert [(n["channel"], n["recipient"], n["status"]) for n in notices] == [
        ("email", "ida@example.com", "queued")
    ]
    assert "ready for pickup at Göteborg Avenyn" in notices[0]["body"]


def test_without_any_address_the_notice_is_suppressed_with_the_reason(shop: Shop) -> None:
    profile_id, notices = _web_pickup_without_email(shop, anonymous_id="lap-n2")
    assert [(n["channel"], n["status"]) for n in notices] == [("email", "suppressed")]
    assert "no email address" in notices[0]["last_error"]
    suppressed = shop.ok(
        shop.client.get(
            f"/v1/profiles/{profile_id}/notifications",
            params={"status": "suppressed"},
            headers=shop.agent,
        )
    )
    assert len(suppressed["items"]) == 1
