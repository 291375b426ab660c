"""S2: the cart left on the laptop, the reminder email, the same cart on the phone."""

import re
import threading
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from sqlalchemy import select

from omnikanal.kit.time import utcnow
from omnikanal.marketing import tokens
from omnikanal.timers.models import Timer, TimerStatus
from tests.integration.commerce.conftest import CARD, COAT, SCARF, Shop, delivery
from tests.integration.marketing.conftest import MailSink, make_due, run_later, timer_runner

EMAIL = "anna@example.com"


def known_person(shop: Shop, *, anonymous_id: str, email: str = EMAIL, **traits: Any) -> str:
    shop.ok(
        shop.client.post(
            "/v1/identify",
            json={
                "anonymousId": anonymous_id,
                "traits": {"email": email, "first_name": "Anna", **traits},
            },
            headers=shop.web_events,
        )
    )
    found = shop.ok(shop.client.get("/v1/profiles", params={"email": email}, headers=shop.agent))
    profile_id: str = found["items"][0]["id"]
    return profile_id


def coat_on_the_laptop(shop: Shop, anonymous_id: str = "laptop-1") -> Any:
    response = shop.client.post(
        "/v1/carts",
        json={"currency": "SEK", "anonymous_id": anonymous_id, "items": [{"sku": COAT}]},
        headers=shop.web,
    )
    assert response.status_code in (200, 201), response.text
    return response.json()


def restore_link(mail: MailSink) -> str:
    body = mail.received[0].get_body(preferencelist=("plain",))
    assert body is not None
    found = re.search(r"/v1/carts/restore/(\S+)", body.get_content())
    assert found, body.get_content()
    return found.group(1)


def messages(shop: Shop, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = shop.ok(
        shop.client.get("/v1/marketing/messages", params=params, headers=shop.agent)
    )["items"]
    return items


def test_the_reminder_reaches_the_phone_and_opens_the_same_cart(
    shop: Shop, app: FastAPI, mail: MailSink
) -> None:
    profile_id = known_person(
        shop, anonymous_id="laptop-1", consents={"marketing": {"email": True}}
    )
    cart = coat_on_the_laptop(shop)
    assert mail.received == []  # nothing before the delay

    run_later(app)
    assert len(mail.received) == 1
    reminder = mail.received[0]
    assert reminder["To"] == EMAIL
    assert "Wool coat, grey" in reminder.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    assert reminder["List-Unsubscribe"].startswith("<https://hub.example.com/v1/unsubscribe/")
    assert reminder["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    token = restore_link(mail)
    html = reminder.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    pixel = re.search(r'src="https://hub.example.com(/v1/marketing/open/[^"]+)"', html)
    assert pixel
    opened = shop.client.get(pixel.group(1))
    assert (opened.status_code, opened.headers["content-type"]) == (200, "image/gif")

    # The phone opens the link with its own new anonymous id: the same cart, the same lines.
    restored = shop.ok(
        shop.client.get(
            f"/v1/carts/restore/{token}", params={"anonymous_id": "phone-9"}, headers=shop.app
        )
    )
    assert restored["id"] == cart["id"]
    assert [(line["sku"], line["quantity"]) for line in restored["lines"]] == [(COAT, 1)]
    on_phone = shop.ok(
        shop.client.get("/v1/carts/current", params={"anonymous_id": "phone-9"}, headers=shop.app)
    )
    assert on_phone["id"] == cart["id"]
    timeline = shop.ok(shop.client.get(f"/v1/profiles/{profile_id}/timeline", headers=shop.agent))
    assert "Cart Restored" in [e["name"] for e in timeline["items"]]
    logged = messages(shop, profile_id=profile_id)
    assert [(m["kind"], m["status"]) for m in logged] == [("abandoned_cart", "clicked")]
    assert logged[0]["clicked_at"] is not None
    assert logged[0]["opened_at"] is not None

    # Checkout on the phone; no second reminder, however long we wait.
    shop.ok(
        shop.client.post(
            f"/v1/carts/{cart['id']}/checkout",
            json={"fulfilment": delivery(), "tenders": CARD},
            headers=shop.app,
        ),
        201,
    )
    run_later(app)
    assert len(mail.received) == 1
    # The order came within the window after the click: the reminder converted.
    (converted,) = messages(shop, profile_id=profile_id)
    assert converted["converted_order_id"] is not None


def test_each_change_moves_the_reminder(shop: Shop, app: FastAPI, mail: MailSink) -> None:
    known_person(shop, anonymous_id="laptop-2", marketing_email_opt_in=True)
    cart = coat_on_the_laptop(shop, "laptop-2")
    with shop.factory() as session:
        first = session.scalars(select(Timer).where(Timer.kind == "marketing.abandoned_cart")).one()
    shop.ok(
        shop.client.put(
            f"/v1/carts/{cart['id']}/items/{COAT}", json={"quantity": 2}, headers=shop.web
        )
    )
    with shop.factory() as session:
        moved = session.scalars(select(Timer).where(Timer.kind == "marketing.abandoned_cart")).one()
    assert moved.due_at > first.due_at
    assert moved.payload["trigger_id"] != first.payload["trigger_id"]
    run_later(app)
    assert len(mail.received) == 1


def test_buying_the_coat_in_a_store_cancels_the_reminder(
    shop: Shop, app: FastAPI, mail: MailSink
) -> None:
    known_person(shop, anonymous_id="laptop-3", consents={"marketing": {"email": True}})
    coat_on_the_laptop(shop, "laptop-3")
    shop.ok(
        shop.client.post(
            "/v1/orders",
            json={
                "currency": "SEK",
                "lines": [{"sku": COAT, "quantity": 1}],
                "tenders": [{"type": "cash"}],
                "customer": {"email": "ANNA@example.com"},
            },
            headers=shop.gbg,
        ),
        201,
    )
    with shop.factory() as session:
        timer = session.scalars(select(Timer).where(Timer.kind == "marketing.abandoned_cart")).one()
        assert timer.status == TimerStatus.CANCELLED
    run_later(app)
    assert mail.received == []
    assert messages(shop) == []


def test_no_reminder_without_marketing_email_consent(
    shop: Shop, app: FastAPI, mail: MailSink
) -> None:
    profile_id = known_person(
        shop, anonymous_id="laptop-4", consents={"marketing": {"email": True}}
    )
    # Later she tells support she wants no marketing email.
    consents = shop.ok(
        shop.client.put(
            f"/v1/profiles/{profile_id}/consents",
            json={
                "consents": [{"purpose": "marketing", "channel": "email", "granted": False}],
                "source": "phone call",
            },
            headers=shop.agent,
        )
    )
    marketing_email = next(
        c for c in consents["consents"] if (c["purpose"], c["channel"]) == ("marketing", "email")
    )
    assert marketing_email["granted"] is False
    assert marketing_email["source"] == "phone call"
    coat_on_the_laptop(shop, "laptop-4")
    run_later(app)
    assert mail.received == []
    logged = messages(shop, profile_id=profile_id)
    assert [(m["status"], m["last_error"]) for m in logged] == [
        ("suppressed", "no marketing email consent")
    ]


def test_nobody_is_reminded_without_an_explicit_opt_in(
    shop: Shop, app: FastAPI, mail: MailSink
) -> None:
    known_person(shop, anonymous_id="laptop-5")
    coat_on_the_laptop(shop, "laptop-5")
    run_later(app)
    assert mail.received == []


def test_two_workers_send_the_reminder_once(shop: Shop, app: FastAPI, mail: MailSink) -> None:
    known_person(shop, anonymous_id="laptop-6", consents={"marketing": {"email": True}})
    coat_on_the_laptop(shop, "laptop-6")
    for _ in range(3):
        make_due(shop.factory)
        workers = [timer_runner(app), timer_runner(app)]
        threads = [threading.Thread(target=w.run_due) for w in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(mail.received) == 1
    assert len(messages(shop, status="sent")) == 1


def test_the_unsubscribe_link_records_the_opt_out(shop: Shop, app: FastAPI, mail: MailSink) -> None:
    profile_id = known_person(
        shop, anonymous_id="laptop-7", consents={"marketing": {"email": True}}
    )
    coat_on_the_laptop(shop, "laptop-7")
    run_later(app)
    link = mail.received[0]["List-Unsubscribe"].strip("<>")
    token = link.rsplit("/", 1)[1]
    shop.ok(shop.client.post(f"/v1/unsubscribe/{token}", headers={"accept": "application/json"}))
    consents = shop.ok(shop.client.get(f"/v1/profiles/{profile_id}/consents", headers=shop.agent))
    marketing_email = next(
        c for c in consents["consents"] if (c["purpose"], c["channel"]) == ("marketing", "email")
    )
    assert (marketing_email["granted"], marketing_email["source"]) == (False, "unsubscribe_link")
    # The next cart change would remind her; it does not.
    coat_on_the_laptop(shop, "laptop-7")
    shop.ok(
        shop.client.post(
            f"/v1/carts/{messages(shop)[0]['cart_id']}/items", json={"sku": COAT}, headers=shop.web
        )
    )
    run_later(app)
    assert len(mail.received) == 1


def test_a_tampered_or_expired_link_is_refused(shop: Shop, app: FastAPI, mail: MailSink) -> None:
    known_person(shop, anonymous_id="laptop-8", consents={"marketing": {"email": True}})
    coat_on_the_laptop(shop, "laptop-8")
    run_later(app)
    token = restore_link(mail)
    body, _, mac = token.partition(".")
    tampered = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + mac
    response = shop.client.get(f"/v1/carts/restore/{tampered}", headers=shop.app)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_link"
    expired = tokens.sign(
        app.state.settings,
        purpose="cart_restore",
        data=tokens.verify(app.state.settings, token, purpose="cart_restore", now=utcnow()),
        expires_at=utcnow() - timedelta(seconds=1),
    )
    response = shop.client.get(f"/v1/carts/restore/{expired}", headers=shop.app)
    assert response.status_code == 400
    assert "expired" in response.json()["detail"]
    response = shop.client.get(f"/v1/unsubscribe/{token}")  # a restore token is not an opt-out
    assert response.status_code == 400
    response = shop.client.post(f"/v1/unsubscribe/{token}", headers={"accept": "application/json"})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_link"


def test_a_forwarded_reminder_never_makes_two_people_one(
    shop: Shop, app: FastAPI, mail: MailSink
) -> None:
    anna = known_person(shop, anonymous_id="laptop-41", consents={"marketing": {"email": True}})
    cart = coat_on_the_laptop(shop, "laptop-41")
    run_later(app)
    token = restore_link(mail)
    # Bo is signed in on his phone, with a cart of his own; Anna forwards him her reminder.
    bo_cart = shop.ok(
        shop.client.post(
            "/v1/carts",
            json={
                "currency": "SEK",
                "user_id": "u-bo",
                "anonymous_id": "phone-bo",
                "email": "bo@example.com",
                "items": [{"sku": SCARF}],
            },
            headers=shop.app,
        ),
        201,
    )
    bo = bo_cart["profile_id"]
    shown = shop.ok(
        shop.client.get(
            f"/v1/carts/restore/{token}", params={"anonymous_id": "phone-bo"}, headers=shop.app
        )
    )
    # He may look at Anna's cart, nothing of his own mixed in ...
    assert shown["id"] == cart["id"]
    assert [(line["sku"], line["quantity"]) for line in shown["lines"]] == [(COAT, 1)]
    # ... and they stay two people, each with their identifiers and their cart.
    profiles = {
        person: shop.ok(shop.client.get(f"/v1/profiles/{person}", headers=shop.agent))
        for person in (anna, bo)
    }
    assert profiles[anna]["id"] == anna
    assert profiles[bo]["id"] == bo
    assert {(i["type"], i["value"]) for i in profiles[bo]["identifiers"]} == {
        ("user_id", "u-bo"),
        ("anonymous_id", "phone-bo"),
        ("email", "bo@example.com"),
    }
    assert {(i["type"], i["value"]) for i in profiles[anna]["identifiers"]} == {
        ("anonymous_id", "laptop-41"),
        ("email", EMAIL),
    }
    for person in (anna, bo):
        log = shop.ok(shop.client.get(f"/v1/profiles/{person}/merges", headers=shop.agent))
        assert [e["action"] for e in log if e["action"] == "merged"] == []
    on_phone = shop.ok(
        shop.client.get("/v1/carts/current", params={"anonymous_id": "phone-bo"}, headers=shop.app)
    )
    assert on_phone["id"] == bo_cart["id"]
    assert [(line["sku"], line["quantity"]) for line in on_phone["lines"]] == [(SCARF, 1)]
