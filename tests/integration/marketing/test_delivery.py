"""Delivery: retried then failed with the reason, templates that do not render, the mail
folder by default, SMS and push over signed webhooks."""

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiosmtpd.controller import Controller
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from omnikanal.config import Settings
from omnikanal.customers.models import Profile
from omnikanal.marketing import delivery, messages
from omnikanal.marketing.models import Message, MessageStatus
from omnikanal.outbox import signing
from omnikanal.timers.models import Timer
from omnikanal.uow import unit_of_work
from tests.integration.commerce.conftest import GBG, Shop
from tests.integration.commerce.test_order_ahead_and_points import member, order_ahead
from tests.integration.marketing.conftest import MailSink, run_later
from tests.integration.marketing.test_abandoned_cart import coat_on_the_laptop, known_person


def test_a_refusing_smtp_server_is_retried_then_the_message_fails(
    shop: Shop, app: FastAPI, mail: MailSink
) -> None:
    mail.refuse = True
    known_person(shop, anonymous_id="laptop-20", consents={"marketing": {"email": True}})
    coat_on_the_laptop(shop, "laptop-20")
    run_later(app)
    assert mail.refused == 2  # OMNIKANAL_DELIVERY_MAX_ATTEMPTS=2 in these tests
    logged = shop.ok(shop.client.get("/v1/marketing/messages", headers=shop.agent))["items"]
    assert len(logged) == 1
    assert logged[0]["status"] == "failed"
    assert logged[0]["attempts"] == 2
    assert "550" in logged[0]["last_error"]
    assert "Wool coat" in logged[0]["body_text"]  # what would have been sent is kept


def _queue(factory: sessionmaker[Session], **overrides: Any) -> Message:
    with unit_of_work(factory) as session:
        profile = Profile()
        session.add(profile)
        session.flush()
        fields: dict[str, Any] = {
            "key": f"test:{profile.id}",
            "kind": "campaign",
            "profile_id": profile.id,
            "channel": "email",
            "recipient": "bo@example.com",
            "template": "campaign",
            "context": {"subject": "Autumn", "body": "Coats are in.", "unsubscribe_url": None},
        }
        message, created = messages.queue(session, **{**fields, **overrides})
        assert created
        return message


def test_a_template_that_does_not_render_fails_the_message_with_the_reason(
    shop: Shop, app: FastAPI, mail: MailSink
) -> None:
    queued = _queue(shop.factory, context={"subject": "No body given"})
    run_later(app)
    with shop.factory() as session:
        message = session.get(Message, queued.id)
        assert message is not None
        assert message.status == MessageStatus.FAILED
        assert message.last_error is not None
        assert "template campaign.txt does not render" in message.last_error
        assert "'body' is undefined" in message.last_error
        assert message.attempts == 0  # a broken template is not retried
    assert mail.received == []


def test_a_message_is_recorded_once_per_key(shop: Shop, app: FastAPI, mail: MailSink) -> None:
    queued = _queue(shop.factory)
    with unit_of_work(shop.factory) as session:
        again, created = messages.queue(
            session,
            key=queued.key,
            kind="campaign",
            profile_id=queued.profile_id,
            channel="email",
            recipient="bo@example.com",
            template="campaign",
            context={},
        )
    assert (again.id, created) == (queued.id, False)
    run_later(app)
    assert len(mail.received) == 1
    assert mail.received[0]["Subject"] == "Autumn"


@pytest.fixture
def provider() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    calls: list[tuple[dict[str, str], bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers["content-length"]))
            calls.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(202)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/sms", calls
    finally:
        server.shutdown()
        server.server_close()


def test_sms_goes_to_the_provider_webhook_signed(
    settings: Settings,
    provider: tuple[str, list[tuple[dict[str, str], bytes]]],
    session_factory: sessionmaker[Session],
) -> None:
    url, calls = provider
    settings.sms_webhook_url = url
    queued = _queue(session_factory, channel="sms", recipient="+46701234567")
    with unit_of_work(session_factory) as session:
        message = messages.deliver(session, message_id=queued.id)
        assert message is not None
        assert message.status == MessageStatus.SENT
    headers, body = calls[0]
    assert orjson.loads(body)["to"] == "+46701234567"
    assert orjson.loads(body)["text"].startswith("omnikanal: Coats are in.")
    assert signing.verify(
        delivery.webhook_secret(settings),
        message_id=headers["webhook-id"],
        timestamp=int(headers["webhook-timestamp"]),
        body=body,
        signature_header=headers["webhook-signature"],
    )


def test_without_an_smtp_url_mail_is_written_to_the_mail_folder(
    settings: Settings, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    settings.smtp_url = None
    queued = _queue(session_factory)
    with unit_of_work(session_factory) as session:
        message = messages.deliver(session, message_id=queued.id)
        assert message is not None
        assert message.status == MessageStatus.SENT
    written = list((tmp_path / "mail").glob("*.eml"))
    assert len(written) == 1
    assert b"Subject: Autumn" in written[0].read_bytes()


def test_the_order_ready_notice_is_pushed_and_marked_sent(
    shop: Shop,
    app: FastAPI,
    settings: Settings,
    provider: tuple[str, list[tuple[dict[str, str], bytes]]],
) -> None:
    url, calls = provider
    settings.push_webhook_url = url
    profile_id = member(shop, shop.app, anonymous_id="cup-9")
    order = order_ahead(shop, "cup-9", GBG)
    for step in ("preparing", "ready"):
        shop.ok(shop.client.post(f"/v1/orders/{order['id']}/{step}", headers=shop.gbg))
    run_later(app)
    told = shop.ok(shop.client.get(f"/v1/profiles/{profile_id}/notifications", headers=shop.agent))
    assert [(n["channel"], n["status"]) for n in told["items"]] == [("push", "sent")]
    pushed = orjson.loads(calls[0][1])
    assert pushed["to"] == profile_id
    assert "ready for pickup at Göteborg Avenyn" in pushed["text"]
    logged = shop.ok(
        shop.client.get(
            "/v1/marketing/messages", params={"profile_id": profile_id}, headers=shop.agent
        )
    )["items"]
    assert [(m["kind"], m["status"]) for m in logged] == [("order_ready_for_pickup", "sent")]


def test_a_transactional_opt_out_is_honoured(shop: Shop, app: FastAPI, settings: Settings) -> None:
    profile_id = member(shop, shop.app, anonymous_id="cup-10")
    shop.ok(
        shop.client.put(
            f"/v1/profiles/{profile_id}/consents",
            json={"consents": [{"purpose": "transactional", "channel": "push", "granted": False}]},
            headers=shop.app,
        )
    )
    order = order_ahead(shop, "cup-10", GBG)
    for step in ("preparing", "ready"):
        shop.ok(shop.client.post(f"/v1/orders/{order['id']}/{step}", headers=shop.gbg))
    run_later(app)
    told = shop.ok(shop.client.get(f"/v1/profiles/{profile_id}/notifications", headers=shop.agent))
    assert [(n["status"], n["last_error"]) for n in told["items"]] == [
        ("failed", "opted out of transactional push")
    ]


class SlowSmtp:
    """An SMTP server that holds each message until ``release`` is set."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.received = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.entered.set()
        await asyncio.to_thread(self.release.wait, 30)
        self.received += 1
        return "250 OK"


def test_no_transaction_is_held_while_the_smtp_server_answers(
    app: FastAPI, settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    slow = SlowSmtp()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(slow, hostname="127.0.0.1", port=port)
    controller.start()
    settings.smtp_url = f"smtp://127.0.0.1:{port}"
    # Should the send hold the write lock, the server lets go after 5 s (the test fails).
    safety = threading.Timer(5, slow.release.set)
    safety.start()
    try:
        queued = _queue(session_factory)
        worker = threading.Thread(target=run_later, args=(app,))
        worker.start()
        assert slow.entered.wait(10)
        started = time.monotonic()
        with unit_of_work(session_factory) as session:
            session.add(Profile())  # any other write, while the message is being sent
        waited = time.monotonic() - started
        with session_factory() as session:
            during = session.get(Message, queued.id)
        slow.release.set()
        worker.join(30)
    finally:
        safety.cancel()
        controller.stop()
    assert waited < 2, f"a write waited {waited:.1f} s for the SMTP send"
    assert during is not None
    assert during.status == MessageStatus.SENDING  # the claim was committed first
    with session_factory() as session:
        sent = session.get(Message, queued.id)
        assert sent is not None
        assert (sent.status, sent.attempts, slow.received) == (MessageStatus.SENT, 1, 1)
        due = session.scalars(
            select(Timer).where(Timer.kind == messages.DELIVER, Timer.status == "scheduled")
        ).all()
        assert due == []  # the lease's timer went with the claim


def test_a_claim_whose_sender_vanished_is_sent_when_its_lease_runs_out(
    app: FastAPI, mail: MailSink, session_factory: sessionmaker[Session]
) -> None:
    queued = _queue(session_factory)
    with unit_of_work(session_factory) as session:
        claimed = messages.claim(session, message_id=queued.id)
        assert claimed is not None  # ... and the worker dies before sending
    run_later(app)  # the earlier timer finds the claim taken; the lease's timer sends it
    with session_factory() as session:
        sent = session.get(Message, queued.id)
        assert sent is not None
        assert (sent.status, sent.attempts) == (MessageStatus.SENT, 2)
    assert len(mail.received) == 1
