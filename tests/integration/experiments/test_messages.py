"""The hub's own messages as experiments: the abandoned-cart reminder's subject and offer,
and a campaign whose variants go out on different channels."""

from typing import Any

from fastapi import FastAPI

from tests.integration.commerce.conftest import Shop
from tests.integration.commerce.conftest import shop as shop  # the fixture
from tests.integration.experiments.test_experiments import _marketer
from tests.integration.marketing.conftest import MailSink, run_later
from tests.integration.marketing.conftest import mail as mail  # the fixtures
from tests.integration.marketing.conftest import settings as settings
from tests.integration.marketing.conftest import smtp as smtp
from tests.integration.marketing.test_abandoned_cart import coat_on_the_laptop, known_person

OFFERS = {"ten-off": "10 % off with code TENOFF", "free-delivery": "Free delivery on this order"}


def test_the_reminder_carries_the_persons_variant(shop: Shop, app: FastAPI, mail: MailSink) -> None:
    marketer = _marketer(shop)
    body: dict[str, Any] = {
        "key": "reminder-offer",
        "name": "Free delivery against 10 % off in the reminder",
        "target": "abandoned_cart",
        "variants": [
            {"key": key, "subject": f"Your coat: {offer}", "offer": offer}
            for key, offer in OFFERS.items()
        ],
    }
    shop.ok(shop.client.post("/v1/experiments", json=body, headers=marketer), 201)
    shop.ok(shop.client.post("/v1/experiments/reminder-offer/start", headers=marketer))
    profile_id = known_person(
        shop, anonymous_id="laptop-1", consents={"marketing": {"email": True}}
    )
    coat_on_the_laptop(shop)
    run_later(app)
    (reminder,) = mail.received
    # The web shop asking later gets the variant the email showed.
    shown = shop.ok(
        shop.client.get(
            "/v1/experiments/reminder-offer/assignment",
            params={"profile_id": profile_id},
            headers=shop.web,
        )
    )
    assert shown["first_exposure"] is False
    offer = OFFERS[shown["variant"]]
    assert reminder["Subject"] == f"Your coat: {offer}"
    assert offer in reminder.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert offer in reminder.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    other = next(o for o in OFFERS.values() if o != offer)
    assert other not in reminder.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]


def test_a_campaign_variant_sends_on_its_channel_only(
    shop: Shop, app: FastAPI, mail: MailSink
) -> None:
    marketer = _marketer(shop)
    known_person(shop, anonymous_id="laptop-5", consents={"marketing": {"email": True}})
    audience = shop.ok(
        shop.client.post(
            "/v1/audiences",
            json={"name": "Everyone", "rule": {"trait": "first_name", "exists": True}},
            headers=marketer,
        ),
        201,
    )
    campaign = shop.ok(
        shop.client.post(
            "/v1/campaigns",
            json={
                "name": "Coats",
                "audience_id": audience["id"],
                "channels": ["email", "sms"],
                "subject": "Coats",
                "body": "Wool coats are in.",
            },
            headers=marketer,
        ),
        201,
    )
    experiment = {
        "key": "coats-channel",
        "name": "Email against SMS",
        "target": f"campaign:{campaign['id']}",
        "variants": [
            {"key": "email", "channel": "email", "offer": "Free delivery this week"},
            {"key": "sms", "channel": "sms"},
        ],
    }
    shop.ok(shop.client.post("/v1/experiments", json=experiment, headers=marketer), 201)
    shop.ok(shop.client.post("/v1/experiments/coats-channel/start", headers=marketer))
    shop.ok(shop.client.post(f"/v1/campaigns/{campaign['id']}/send", headers=marketer), 202)
    run_later(app)
    logged = shop.ok(
        shop.client.get("/v1/marketing/messages", params={"kind": "campaign"}, headers=marketer)
    )["items"]
    channels = {m["channel"] for m in logged if m["kind"] == "campaign"}
    assert len(channels) == 1  # one of the two channels, the variant's
    (variant,) = channels
    if variant == "email":
        (sent,) = mail.received
        assert "Free delivery this week" in sent.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    else:
        assert mail.received == []
