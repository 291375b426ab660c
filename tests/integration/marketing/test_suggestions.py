"""'You may also like' in the abandoned-cart reminder and the post-purchase email: the
person's recommendations, in the brand layout, only with consent for personalisation."""

from typing import Any

from fastapi import FastAPI

from omnikanal.inventory import service as inventory_service
from omnikanal.recommendations import service as recommendations_service
from omnikanal.recommendations.training import Params
from omnikanal.uow import unit_of_work
from tests.integration.commerce.conftest import COAT, GBG, LATTE, SCARF, Shop
from tests.integration.marketing.conftest import SHORT_TIMERS, MailSink, run_later
from tests.integration.marketing.test_abandoned_cart import coat_on_the_laptop, known_person
from tests.integration.marketing.test_lifecycle import till_sale


def _coat_and_scarf_buyers(shop: Shop) -> None:
    """Five people bought the coat with the scarf; two bought a latte. Trained."""
    with unit_of_work(shop.factory) as session:
        for sku in (COAT, SCARF):
            inventory_service.adjust(session, location=GBG, sku=sku, quantity=10, reason="receipt")
    for n in range(7):
        skus = [COAT, SCARF] if n < 5 else [LATTE]
        body: dict[str, Any] = {
            "currency": "SEK",
            "lines": [{"sku": sku, "quantity": 1} for sku in skus],
            "tenders": [{"type": "cash"}],
            "customer": {"user_id": f"buyer-{n}"},
        }
        shop.ok(shop.client.post("/v1/orders", json=body, headers=shop.gbg), 201)
    with unit_of_work(shop.factory) as session:
        params = Params(factors=8, iterations=20, regularization=0.1, threads=1)
        assert recommendations_service.train(session, params=params) is not None


def _html(mail: MailSink) -> str:
    body = mail.received[0].get_body(preferencelist=("html",))
    assert body is not None
    return str(body.get_content())


def test_the_reminder_suggests_what_goes_with_the_cart(
    shop: Shop, app: FastAPI, mail: MailSink
) -> None:
    _coat_and_scarf_buyers(shop)
    known_person(
        shop,
        anonymous_id="laptop-1",
        consents={"marketing": {"email": True}, "personalisation": {"email": True}},
    )
    coat_on_the_laptop(shop)
    run_later(app)
    assert len(mail.received) == 1
    html = _html(mail)
    assert "You may also like" in html
    assert "Merino scarf, red" in html
    assert "Goes with Wool coat, grey in your cart" in html
    text = mail.received[0].get_body(preferencelist=("plain",))
    assert text is not None
    assert "- Merino scarf, red (Goes with Wool coat, grey in your cart)" in text.get_content()


def test_no_suggestions_without_consent_for_personalisation(
    shop: Shop, app: FastAPI, mail: MailSink
) -> None:
    _coat_and_scarf_buyers(shop)
    known_person(shop, anonymous_id="laptop-1", consents={"marketing": {"email": True}})
    coat_on_the_laptop(shop)
    run_later(app)
    assert len(mail.received) == 1
    assert "You may also like" not in _html(mail)
    assert "Merino scarf" not in _html(mail)


def test_the_thank_you_suggests_what_goes_with_the_purchase(
    shop: Shop, app: FastAPI, mail: MailSink
) -> None:
    _coat_and_scarf_buyers(shop)
    known_person(
        shop,
        anonymous_id="laptop-31",
        consents={"marketing": {"email": True}, "personalisation": {"email": True}},
    )
    till_sale(shop, COAT)  # after training: the model knows nothing of her yet
    run_later(app, kinds=("marketing.post_purchase", *SHORT_TIMERS))
    assert len(mail.received) == 1
    html = _html(mail)
    assert "You may also like" in html
    # A best seller she has not bought, in the brand layout; never the coat she just bought.
    section = html.split("You may also like")[1]
    assert "Wool coat, grey" not in section
    assert "Merino scarf, red" in section
