"""Post-purchase and win-back emails, armed by orders on any channel."""

from fastapi import FastAPI
from sqlalchemy import select

from omnikanal.timers.models import Timer
from tests.integration.commerce.conftest import COAT, LATTE, SCARF, STHLM, Shop
from tests.integration.marketing.conftest import SHORT_TIMERS, MailSink, run_later
from tests.integration.marketing.test_abandoned_cart import known_person


def till_sale(shop: Shop, sku: str) -> None:
    shop.ok(
        shop.client.post(
            "/v1/orders",
            json={
                "currency": "SEK",
                "lines": [{"sku": sku, "quantity": 1}],
                "tenders": [{"type": "cash"}],
                "customer": {"email": "anna@example.com"},
            },
            headers=shop.gbg,
        ),
        201,
    )


def test_a_thank_you_after_the_purchase_and_a_win_back_after_silence(
    shop: Shop, app: FastAPI, mail: MailSink
) -> None:
    known_person(shop, anonymous_id="laptop-30", consents={"marketing": {"email": True}})
    till_sale(shop, LATTE)
    with shop.factory() as session:
        first = session.scalars(select(Timer).where(Timer.kind == "marketing.win_back")).one()
    till_sale(shop, COAT)  # a second order moves the win-back
    with shop.factory() as session:
        moved = session.scalars(select(Timer).where(Timer.kind == "marketing.win_back")).one()
    assert moved.due_at > first.due_at
    run_later(app, kinds=("marketing.post_purchase", *SHORT_TIMERS))
    subjects = sorted(m["Subject"] for m in mail.received)
    assert subjects == ["Thank you, Anna: how is it going?"] * 2
    coat_mail = [m for m in mail.received if "Wool coat" in str(m.get_body(("plain",)))]
    assert len(coat_mail) == 1
    run_later(app, kinds=("marketing.win_back", *SHORT_TIMERS))
    assert [m["Subject"] for m in mail.received][-1] == "Anna, we miss you"
    assert len(mail.received) == 3


def test_back_in_stock_tells_those_who_asked_once(shop: Shop, app: FastAPI, mail: MailSink) -> None:
    profile_id = known_person(shop, anonymous_id="laptop-31")  # no marketing opt-in needed
    asked = shop.ok(
        shop.client.post(
            "/v1/marketing/stock-alerts",
            json={"profile_id": profile_id, "sku": SCARF},
            headers=shop.web,
        ),
        201,
    )
    assert asked["status"] == "waiting"
    for _ in range(2):
        shop.ok(
            shop.client.post(
                f"/v1/inventory/{STHLM}/{SCARF}/adjustments",
                json={"quantity": 4, "reason": "receipt"},
                headers=shop.admin,
            ),
            201,
        )
    run_later(app)
    assert [m["Subject"] for m in mail.received] == ["Merino scarf, red is back in stock"]


def test_a_restock_of_what_is_still_on_the_shelf_tells_nobody(
    shop: Shop, app: FastAPI, mail: MailSink
) -> None:
    profile_id = known_person(shop, anonymous_id="laptop-32")
    shop.ok(
        shop.client.post(
            "/v1/marketing/stock-alerts",
            json={"profile_id": profile_id, "sku": LATTE},
            headers=shop.web,
        ),
        201,
    )
    # Stockholm still has lattes: more of them is not "back in stock".
    shop.ok(
        shop.client.post(
            f"/v1/inventory/{STHLM}/{LATTE}/adjustments",
            json={"quantity": 10, "reason": "receipt"},
            headers=shop.admin,
        ),
        201,
    )
    run_later(app)
    assert mail.received == []
