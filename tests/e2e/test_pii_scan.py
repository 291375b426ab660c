"""S16: a person who touched every domain, then a scan of every table and every file.

Zelda browses the web shop, signs in on the app, buys at a till with her loyalty card,
leaves a cart (and gets the reminder as an .eml file in the data folder), orders it for
delivery and brings it back to a store, collects a latte ordered ahead, chats and phones
support, changes a consent, gets a campaign, and every domain event goes to a webhook.
Everything she does goes through the HTTP API; the retailer (catalog, stores, stock, keys)
is the commerce tests' small one, and the test drives the worker (relay, timers).

Before erasure the scan (tests/pii.py) finds her in every domain that holds her, which
proves the scan can fail. After erasure it must find nothing, on SQLite and PostgreSQL.
"""

import asyncio
import json
import time
import uuid
from dataclasses import dataclass
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.engine import Engine

from omnikanal.auth.models import Channel, Role
from omnikanal.config import Settings
from omnikanal.worker import Worker
from tests.factories import bearer, create_secret_key
from tests.integration.commerce.conftest import CARD, COAT, GBG, LATTE, SCARF, Headers, Shop
from tests.integration.commerce.conftest import shop as shop  # the fixture, re-exported
from tests.integration.marketing.conftest import run_later
from tests.integration.test_outbox import WebhookReceiver
from tests.integration.test_outbox import receiver as receiver  # the fixture, re-exported
from tests.pii import (
    Hit,
    Needle,
    matches,
    report,
    scan_database,
    scan_folder,
    sqlite_files,
    tables_naming,
)

FIRST_NAME, LAST_NAME = "Zelda", "Quistgaard"
PHONE_AS_TYPED = "070-123 45 67"
STREET = "Sjöstjärnegränd 7"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """No SMTP server: mail is written to <data dir>/mail as .eml files, which the scan
    reads. The data folder is apart from the SQLite file, scanned through its catalog."""
    return Settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        embedded_worker=False,
        nats_url=None,
        smtp_url=None,
        mail_from="Norrsken <shop@example.com>",
        public_url="https://hub.example.com",
        abandoned_cart_delay=60,
        secret_key="test-secret",
        quiet_hours="",
        marketing_daily_cap=10,
    )


def run_worker(app: FastAPI, *, passes: int = 5) -> None:
    """What `omnikanal worker` would do meanwhile: the relay (webhooks), timers, periodic
    jobs, pass after pass until nothing is left."""
    worker = Worker(
        session_factory=app.state.session_factory,
        settings=app.state.settings,
        registry=app.state.registry,
    )

    async def until_idle() -> None:
        async with httpx.AsyncClient() as client:
            try:
                for _ in range(passes):
                    if await worker.run_once(client) == 0:
                        return
            finally:
                await worker.relay.close()

    asyncio.run(until_idle())


@dataclass(frozen=True)
class Person:
    profile_id: str
    email: str
    user_id: str
    web_device: str
    app_device: str
    card: str

    def needles(self) -> list[Needle]:
        return [
            Needle.text("email", self.email),
            Needle.phone("phone", PHONE_AS_TYPED),
            Needle.text("first name", FIRST_NAME),
            Needle.text("last name", LAST_NAME),
            Needle.text("street", STREET),
            Needle.text("user id", self.user_id),
            Needle.text("web device", self.web_device),
            Needle.text("app device", self.app_device),
            Needle.number("loyalty card", self.card),
        ]


@dataclass(frozen=True)
class Keys:
    chat: Headers
    phone: Headers
    marketer: Headers


@pytest.fixture
def keys(shop: Shop) -> Keys:
    def key(role: Role, channel: Channel | None = None) -> Headers:
        return bearer(create_secret_key(shop.factory, role=role, channel=channel))

    return Keys(
        chat=key(Role.CHANNEL, Channel.CHAT),
        phone=key(Role.CHANNEL, Channel.PHONE),
        marketer=key(Role.MARKETER),
    )


def post(shop: Shop, path: str, body: Any, headers: Headers, status: int = 200) -> Any:
    return shop.ok(shop.client.post(path, json=body, headers=headers), status)


def bodies(receiver: WebhookReceiver) -> list[dict[str, Any]]:
    """What the connected system was sent (signed: the receiver checks each signature)."""
    return [delivery["body"] for delivery in receiver.received]


def idempotent(key: str) -> dict[str, str]:
    return {"Idempotency-Key": f"{key}-{uuid.uuid4().hex[:8]}"}


def the_connected_systems(shop: Shop, receiver: WebhookReceiver) -> None:
    """Webhooks on for every event; the loyalty program named as a retailer would."""
    created = post(
        shop, "/v1/webhooks", {"url": receiver.url, "description": "ERP"}, shop.admin, 201
    )
    receiver.secret = created["secret"]
    program = shop.ok(shop.client.get("/v1/loyalty/program", headers=shop.admin))
    shop.ok(
        shop.client.put(
            "/v1/loyalty/program", json={**program, "name": "Norrsken Club"}, headers=shop.admin
        )
    )


def shown_a_variant(shop: Shop, device: str) -> None:
    """The web shop asks which variant of a running experiment her laptop gets, before
    anyone knows whose laptop it is: the exposure names only the device."""
    experiment = {"key": "coat-page", "name": "Coat page", "variants": [{"key": "a"}, {"key": "b"}]}
    post(shop, "/v1/experiments", experiment, shop.admin, 201)
    post(shop, "/v1/experiments/coat-page/start", {}, shop.admin)
    shown = shop.ok(
        shop.client.get(
            "/v1/experiments/coat-page/assignment",
            params={"anonymous_id": device},
            headers=shop.web,
        )
    )
    assert shown["first_exposure"]


def web_then_app(shop: Shop) -> Person:
    def tag() -> str:
        return uuid.uuid4().hex[:10]

    # Each value its own random part: no needle is found inside another one's value.
    email = f"Zelda.Quist-{tag()}@Example.org"
    user_id, web_device, app_device = f"u-{tag()}", f"laptop-{tag()}", f"phone-{tag()}"
    shown_a_variant(shop, web_device)
    # Anonymous browsing, then she signs up with everything a web shop asks for.
    post(shop, "/v1/page", {"anonymousId": web_device, "name": "Coats"}, shop.web_events)
    post(
        shop,
        "/v1/track",
        {"anonymousId": web_device, "event": "Product Viewed", "properties": {"sku": COAT}},
        shop.web_events,
    )
    post(
        shop,
        "/v1/identify",
        {
            "userId": user_id,
            "anonymousId": web_device,
            "traits": {
                "email": email,
                "first_name": FIRST_NAME,
                "last_name": LAST_NAME,
                "name": f"{FIRST_NAME} {LAST_NAME}",
                "phone": PHONE_AS_TYPED,
                "address": {
                    "street": STREET,
                    "postal_code": "118 53",
                    "city": "Stockholm",
                    "country": "SE",
                },
                "consents": {"marketing": {"email": True}},
            },
        },
        shop.web_events,
    )
    # The app, signed in with the same user id.
    post(
        shop,
        "/v1/identify",
        {"userId": user_id, "anonymousId": app_device, "traits": {"email": email.upper()}},
        shop.app_events,
    )
    post(
        shop,
        "/v1/screen",
        {"userId": user_id, "anonymousId": app_device, "name": "Wishlist"},
        shop.app_events,
    )
    found = shop.ok(shop.client.get("/v1/profiles", params={"email": email}, headers=shop.agent))
    (profile,) = found["items"]
    assert (
        shop.ok(
            shop.client.get("/v1/profiles", params={"anonymous_id": app_device}, headers=shop.agent)
        )["items"][0]["id"]
        == profile["id"]
    )
    member = post(shop, f"/v1/loyalty/{profile['id']}/join", {"channel": "app"}, shop.agent)
    return Person(
        profile_id=profile["id"],
        email=email,
        user_id=user_id,
        web_device=web_device,
        app_device=app_device,
        card=member["card_number"],
    )


def till_purchase_with_the_card(shop: Shop, zelda: Person) -> None:
    order = post(
        shop,
        "/v1/orders",
        {
            "currency": "SEK",
            "lines": [{"sku": SCARF, "quantity": 1}],
            "tenders": [{"type": "card", "reference": "till-gbg-4711"}],
            "customer": {"loyalty_card": zelda.card},
        },
        {**shop.gbg, **idempotent("till")},
        201,
    )
    assert order["profile_id"] == zelda.profile_id


def reminder_then_delivery_then_return(shop: Shop, app: FastAPI, zelda: Person) -> None:
    cart = post(
        shop,
        "/v1/carts",
        {"currency": "SEK", "anonymous_id": zelda.web_device, "items": [{"sku": COAT}]},
        shop.web,
        201,
    )
    assert cart["profile_id"] == zelda.profile_id
    run_later(app)  # the abandoned-cart reminder, rendered and written as an .eml file
    reminders = list((Path(app.state.settings.data_dir) / "mail").glob("*.eml"))
    assert len(reminders) == 1, reminders
    mail = message_from_bytes(reminders[0].read_bytes(), policy=policy.default)
    assert mail["To"].lower() == zelda.email.lower()

    order = post(
        shop,
        f"/v1/carts/{cart['id']}/checkout",
        {
            "fulfilment": {
                "type": "delivery",
                "address": {
                    "name": f"{FIRST_NAME} {LAST_NAME}",
                    "street": STREET,
                    "postal_code": "118 53",
                    "city": "Stockholm",
                    "country": "SE",
                    "phone": PHONE_AS_TYPED,
                },
            },
            "tenders": CARD,
            "email": zelda.email,
        },
        {**shop.web, **idempotent("checkout")},
        201,
    )
    assert order["email"].lower() == zelda.email.lower()
    post(shop, f"/v1/orders/{order['id']}/ship", {}, shop.web)
    post(
        shop,
        "/v1/returns",
        {
            "order_id": order["id"],
            "lines": [{"sku": COAT, "quantity": 1}],
            "reason": f"Too small, says {FIRST_NAME} {LAST_NAME}",
        },
        {**shop.gbg, **idempotent("return")},
        201,
    )


def latte_to_collect(shop: Shop, app: FastAPI, zelda: Person) -> None:
    cart = post(
        shop,
        "/v1/carts",
        {"currency": "SEK", "user_id": zelda.user_id, "items": [{"sku": LATTE}]},
        shop.web,
        201,
    )
    order = post(
        shop,
        f"/v1/carts/{cart['id']}/checkout",
        {"fulfilment": {"type": "click_and_collect", "location": GBG}, "tenders": CARD},
        shop.web,
        201,
    )
    for step in ("preparing", "ready"):
        post(shop, f"/v1/orders/{order['id']}/{step}", {}, shop.gbg)
    run_later(app)  # the notice is delivered as a transactional message
    notices = shop.ok(
        shop.client.get(f"/v1/profiles/{zelda.profile_id}/notifications", headers=shop.agent)
    )["items"]
    assert [(n["channel"], n["recipient"]) for n in notices] == [("email", zelda.email.lower())]


def chat_and_phone(shop: Shop, keys: Keys, zelda: Person) -> None:
    chatted = post(
        shop,
        "/v1/conversations/messages",
        {
            "body": f"Hi, {FIRST_NAME} {LAST_NAME} here: can I return the coat in Göteborg?",
            "anonymous_id": zelda.web_device,
            "subject": f"Return for {LAST_NAME}",
        },
        keys.chat,
        201,
    )
    assert chatted["profile_id"] == zelda.profile_id
    called = post(
        shop,
        "/v1/conversations/messages",
        {
            "body": f"{FIRST_NAME} called from {PHONE_AS_TYPED} about her return.",
            "phone": PHONE_AS_TYPED,
        },
        keys.phone,
        201,
    )
    assert called["conversation_id"] == chatted["conversation_id"]
    post(
        shop,
        f"/v1/conversations/{chatted['conversation_id']}/reply",
        {"body": f"Hej {FIRST_NAME}! Yes, any store takes it back."},
        shop.agent,
        201,
    )


def consent_and_campaign(shop: Shop, app: FastAPI, keys: Keys, zelda: Person) -> None:
    shop.ok(
        shop.client.put(
            f"/v1/profiles/{zelda.profile_id}/consents",
            json={
                "consents": [{"purpose": "marketing", "channel": "sms", "granted": False}],
                "source": "phone call",
            },
            headers=shop.agent,
        )
    )
    audience = post(
        shop,
        "/v1/audiences",
        {"name": "Coat buyers", "rule": {"trait": "last_name", "exists": True}},
        keys.marketer,
        201,
    )
    campaign = post(
        shop,
        "/v1/campaigns",
        {
            "name": "Autumn coats",
            "audience_id": audience["id"],
            "channels": ["email"],
            "subject": "Autumn coats",
            "body": "Wool coats are in.",
            "survey": "nps",
        },
        keys.marketer,
        201,
    )
    post(shop, f"/v1/campaigns/{campaign['id']}/send", {}, keys.marketer, 202)
    run_later(app)
    sent = shop.ok(shop.client.get(f"/v1/campaigns/{campaign['id']}", headers=keys.marketer))
    assert sent["messages"]["sent"] == 1, sent
    # She answers the campaign's survey through its link, and says who she is.
    post(shop, survey_path(app), {"score": 9, "comment": f"{FIRST_NAME} here: quick"}, {}, 201)


def survey_path(app: FastAPI) -> str:
    for path in (Path(app.state.settings.data_dir) / "mail").glob("*.eml"):
        mail = message_from_bytes(path.read_bytes(), policy=policy.default)
        text: str = mail.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
        links = [word for word in text.split() if "/v1/surveys/" in word]
        if links:
            return "/v1/surveys/" + links[0].rsplit("/", 1)[1]
    raise AssertionError("no survey link in any mail")


def zelda_everywhere(shop: Shop, app: FastAPI, keys: Keys, receiver: WebhookReceiver) -> Person:
    the_connected_systems(shop, receiver)
    zelda = web_then_app(shop)
    till_purchase_with_the_card(shop, zelda)
    reminder_then_delivery_then_return(shop, app, zelda)
    latte_to_collect(shop, app, zelda)
    chat_and_phone(shop, keys, zelda)
    consent_and_campaign(shop, app, keys, zelda)
    run_worker(app, passes=20)  # webhooks delivered
    sent_her = [b for b in bodies(receiver) if matches(json.dumps(b), zelda.needles())]
    assert sent_her, "no webhook named her: connected systems hold her too"
    mails = list((Path(app.state.settings.data_dir) / "mail").glob("*.eml"))
    assert len(mails) == 3, mails  # reminder, pickup notice, campaign
    return zelda


def scan(app: FastAPI, zelda: Person) -> list[Hit]:
    settings: Settings = app.state.settings
    engine: Engine = app.state.engine
    needles = zelda.needles()
    skip = sqlite_files(settings.resolved_database_url())
    return scan_database(engine, needles) + scan_folder(Path(settings.data_dir), needles, skip=skip)


def test_before_erasure_the_scan_finds_her_in_every_domain(
    shop: Shop, app: FastAPI, keys: Keys, receiver: WebhookReceiver
) -> None:
    zelda = zelda_everywhere(shop, app, keys, receiver)

    found = tables_naming(scan(app, zelda))

    devices = {"user id", "web device", "app device"}
    expected = {
        "customer_identifier": {"email", "phone", "loyalty card", *devices},
        "customer_profile": {"email", "phone", "first name", "last name", "street"},
        "events_event": {"email", "phone", "first name", "last name", "street", *devices},
        "commerce_order": {"email", "phone", "last name", "street"},
        "commerce_return": {"last name"},  # the reason staff typed
        "loyalty_member": {"loyalty card"},
        "conversation": {"last name"},
        "conversation_message": {"first name", "last name", "phone"},
        "marketing_message": {"email"},
        "marketing_survey_answer": {"first name"},  # the comment she wrote
        "experiment_exposure": {"web device"},  # shown a variant before she signed in
        "notifications_notification": {"email"},
        "outbox_event": {"email", "loyalty card"},  # what webhooks were sent
        "idempotency_record": {"email", "phone", "last name", "street"},
        "file": {"email"},  # the reminder, the notice and the campaign as .eml
    }
    missing = {
        table: labels - found.get(table, set())
        for table, labels in expected.items()
        if labels - found.get(table, set())
    }
    seen = sorted((table, sorted(labels)) for table, labels in found.items())
    assert missing == {}, f"missing {missing}; found {seen}"


def test_after_erasure_the_scan_finds_nothing(
    shop: Shop, app: FastAPI, keys: Keys, receiver: WebhookReceiver
) -> None:
    zelda = zelda_everywhere(shop, app, keys, receiver)
    assert scan(app, zelda)  # she is there before

    response = shop.client.post(
        f"/v1/profiles/{zelda.profile_id}/erase", headers={**shop.admin, **idempotent("erase")}
    )
    assert response.status_code == 202, response.text
    request_id = response.json()["id"]
    deadline = time.monotonic() + 20
    while True:
        run_worker(app)
        status = shop.ok(shop.client.get(f"/v1/privacy/requests/{request_id}", headers=shop.admin))
        if status["status"] in ("done", "failed") or time.monotonic() > deadline:
            break
    assert status["status"] == "done", status

    hits = scan(app, zelda)
    assert hits == [], f"{len(hits)} places still name her:\n{report(hits)}"
    # Connected systems are told to erase her too, by ids alone.
    erased = [b for b in bodies(receiver) if b.get("type") == "profile.erased"]
    assert len(erased) == 1, [b.get("type") for b in bodies(receiver)]
    assert matches(json.dumps(erased[0]), zelda.needles()) == []
