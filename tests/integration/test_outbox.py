"""The outbox against real receivers: in-process handlers, a signed webhook on loopback,
and the NATS JetStream server at 127.0.0.1:4222."""

import asyncio
import dataclasses
import json
import os
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from omnikanal.app import create_app
from omnikanal.config import Settings
from omnikanal.http import DbSession
from omnikanal.kit.time import utcnow
from omnikanal.outbox import repository, signing
from omnikanal.outbox.models import DeliveryStatus, OutboxDelivery, OutboxEvent
from omnikanal.outbox.registry import HandlerRegistry, PublishedEvent
from omnikanal.outbox.relay import Relay
from omnikanal.uow import DomainEvent, record_event, unit_of_work
from omnikanal.worker import Worker
from tests.factories import bearer, create_secret_key

NATS_URL = os.environ.get("OMNIKANAL_TEST_NATS_URL", "nats://127.0.0.1:4222")


@dataclasses.dataclass(frozen=True)
class ThingHappened(DomainEvent):
    type: ClassVar[str] = "thing.happened"
    thing_id: uuid.UUID
    note: str


class Seen:
    """What the test handler saw, and whether it should fail."""

    def __init__(self) -> None:
        self.events: list[PublishedEvent] = []
        self.fail_times = 0

    def handle(self, session: Session, event: PublishedEvent) -> None:
        if self.fail_times > 0:
            self.fail_times -= 1
            raise RuntimeError("handler is down")
        self.events.append(event)


def make_app(settings: Settings, seen: Seen) -> FastAPI:
    registry = HandlerRegistry()
    registry.subscribe("thing.happened", "test.remember_thing", seen.handle)
    app = create_app(settings, registry=registry)
    router = APIRouter()

    @router.post("/things", status_code=201)
    def make_thing(session: DbSession, note: str = "") -> dict[str, str]:
        thing_id = uuid.uuid4()
        record_event(session, ThingHappened(thing_id=thing_id, note=note))
        if note == "fail-after-event":
            raise RuntimeError("the request fails after recording its event")
        return {"id": str(thing_id)}

    app.include_router(router)
    return app


def deliveries(factory: sessionmaker[Session]) -> list[OutboxDelivery]:
    with factory() as session:
        return list(session.scalars(select(OutboxDelivery)))


def make_due_now(session: Session, delivery_id: uuid.UUID) -> None:
    """Skip the backoff wait, as if its seconds had passed."""
    repository.mark(session, delivery_id, next_attempt_at=utcnow())


def run_worker_once(app: FastAPI) -> int:
    worker = Worker(
        session_factory=app.state.session_factory,
        settings=app.state.settings,
        registry=app.state.registry,
    )

    async def once() -> int:
        async with httpx.AsyncClient() as client:
            try:
                return await worker.run_once(client)
            finally:
                await worker.relay.close()

    return asyncio.run(once())


def test_handlers_run_after_commit_with_the_event(settings: Settings) -> None:
    seen = Seen()
    app = make_app(settings, seen)
    client = TestClient(app)
    response = client.post("/things", params={"note": "hello"})
    assert response.status_code == 201
    assert [e.payload for e in seen.events] == [
        {"thing_id": response.json()["id"], "note": "hello"}
    ]
    [delivery] = deliveries(app.state.session_factory)
    assert delivery.status == DeliveryStatus.DELIVERED
    assert delivery.attempts == 1


def test_a_failed_request_leaves_no_event(settings: Settings) -> None:
    seen = Seen()
    app = make_app(settings, seen)
    client = TestClient(app, raise_server_exceptions=False)
    assert client.post("/things", params={"note": "fail-after-event"}).status_code == 500
    with app.state.session_factory() as session:
        assert session.scalars(select(OutboxEvent)).all() == []
    assert seen.events == []


def test_handler_failure_is_recorded_then_retried(settings: Settings) -> None:
    seen = Seen()
    seen.fail_times = 1
    app = make_app(settings, seen)
    client = TestClient(app)
    assert client.post("/things").status_code == 201
    [failed] = deliveries(app.state.session_factory)
    assert failed.status == DeliveryStatus.PENDING
    assert failed.attempts == 1
    assert failed.last_error is not None
    assert "handler is down" in failed.last_error
    # Make the retry due now, as the backoff would after a few seconds.
    with unit_of_work(app.state.session_factory) as session:
        make_due_now(session, failed.id)
    assert run_worker_once(app) == 1
    [delivered] = deliveries(app.state.session_factory)
    assert delivered.status == DeliveryStatus.DELIVERED
    assert delivered.attempts == 2
    assert len(seen.events) == 1


def test_gives_up_after_max_attempts_and_an_admin_can_retry(settings: Settings) -> None:
    seen = Seen()
    seen.fail_times = 1
    app = make_app(settings.model_copy(update={"delivery_max_attempts": 1}), seen)
    client = TestClient(app)
    client.post("/things")
    [failed] = deliveries(app.state.session_factory)
    assert failed.status == DeliveryStatus.FAILED
    admin = bearer(create_secret_key(app.state.session_factory))
    listed = client.get("/v1/outbox/deliveries", params={"status": "failed"}, headers=admin)
    assert [d["id"] for d in listed.json()["items"]] == [str(failed.id)]
    retried = client.post(f"/v1/outbox/deliveries/{failed.id}/retry", headers=admin)
    assert retried.json()["status"] == "pending"
    assert run_worker_once(app) == 1
    assert len(seen.events) == 1


class WebhookReceiver:
    """A real HTTP server on loopback that checks Standard Webhooks signatures."""

    def __init__(self) -> None:
        self.secret = ""
        self.received: list[dict[str, Any]] = []
        self.fail_next = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                body = self.rfile.read(int(self.headers["content-length"]))
                valid = signing.verify(
                    receiver.secret,
                    message_id=self.headers["webhook-id"],
                    timestamp=int(self.headers["webhook-timestamp"]),
                    body=body,
                    signature_header=self.headers["webhook-signature"],
                )
                if receiver.fail_next > 0:
                    receiver.fail_next -= 1
                    self.send_response(503)
                elif not valid:
                    self.send_response(401)
                else:
                    receiver.received.append(
                        {"id": self.headers["webhook-id"], "body": json.loads(body)}
                    )
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    hooks = WebhookReceiver()
    yield hooks
    hooks.close()


def test_webhooks_are_signed_and_retried(settings: Settings, receiver: WebhookReceiver) -> None:
    app = make_app(settings, Seen())
    client = TestClient(app)
    admin = bearer(create_secret_key(app.state.session_factory))
    created = client.post(
        "/v1/webhooks",
        json={"url": receiver.url, "event_types": ["thing.happened"]},
        headers=admin,
    )
    assert created.status_code == 201
    receiver.secret = created.json()["secret"]
    thing = client.post("/things", params={"note": "signed"}).json()

    receiver.fail_next = 1
    assert run_worker_once(app) == 1
    assert receiver.received == []
    with unit_of_work(app.state.session_factory) as session:
        webhook_delivery = session.scalars(
            select(OutboxDelivery).where(OutboxDelivery.kind == "webhook")
        ).one()
        assert webhook_delivery.last_error == "RuntimeError: endpoint answered HTTP 503"
        make_due_now(session, webhook_delivery.id)
    assert run_worker_once(app) == 1
    [message] = receiver.received
    assert message["body"]["type"] == "thing.happened"
    assert message["body"]["data"] == {"thing_id": thing["id"], "note": "signed"}
    assert message["id"] == message["body"]["id"]
    assert run_worker_once(app) == 0  # nothing left to send


def test_crash_between_commit_and_delivery(settings: Settings, receiver: WebhookReceiver) -> None:
    """The event is committed but the process dies before the relay runs: after a restart
    the event is delivered, once per event id."""
    seen = Seen()
    app = make_app(settings, seen)
    admin = bearer(create_secret_key(app.state.session_factory))
    created = TestClient(app).post("/v1/webhooks", json={"url": receiver.url}, headers=admin)
    receiver.secret = created.json()["secret"]
    # "Crash": commit the event without any after-commit step.
    with unit_of_work(app.state.session_factory) as session:
        event_id = record_event(session, ThingHappened(thing_id=uuid.uuid4(), note="crash"))
    assert seen.events == []
    assert receiver.received == []

    restarted = make_app(settings, seen)
    run_worker_once(restarted)
    run_worker_once(restarted)  # a second pass finds nothing to re-send
    assert [e.id for e in seen.events] == [event_id]
    assert [m["id"] for m in receiver.received] == [str(event_id)]


def test_an_expired_lease_is_taken_over(settings: Settings) -> None:
    """A worker that claimed a delivery and died: its lease runs out and another delivers."""
    seen = Seen()
    app = make_app(settings, seen)
    with unit_of_work(app.state.session_factory) as session:
        event_id = record_event(session, ThingHappened(thing_id=uuid.uuid4(), note="lease"))
    with unit_of_work(app.state.session_factory) as session:
        claimed = repository.claim_due_deliveries(session, limit=10, lease=timedelta(seconds=-1))
        assert len(claimed) == 1
    Relay(
        session_factory=app.state.session_factory,
        settings=app.state.settings,
        registry=app.state.registry,
    ).run_handlers([event_id])
    assert [e.id for e in seen.events] == [event_id]


def _nats_available() -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", 4222), timeout=1):
            return True
    except OSError:
        return False


def test_events_reach_nats_jetstream(settings: Settings) -> None:
    if not _nats_available():
        if os.environ.get("CI") == "true":
            pytest.fail("NATS is not answering at 127.0.0.1:4222 (CI=true)")
        pytest.skip("NATS is not answering at 127.0.0.1:4222")
    import nats

    stream = f"OMNIKANAL_TEST_{uuid.uuid4().hex[:8].upper()}"
    prefix = f"omnikanal_test_{uuid.uuid4().hex[:8]}"
    app = make_app(
        settings.model_copy(
            update={"nats_url": NATS_URL, "nats_stream": stream, "nats_subject_prefix": prefix}
        ),
        Seen(),
    )
    with unit_of_work(app.state.session_factory) as session:
        event_id = record_event(session, ThingHappened(thing_id=uuid.uuid4(), note="nats"))
    assert run_worker_once(app) >= 1
    # A re-sent delivery (at-least-once) is dropped by JetStream thanks to Nats-Msg-Id.
    with unit_of_work(app.state.session_factory) as session:
        nats_delivery = session.scalars(
            select(OutboxDelivery).where(OutboxDelivery.kind == "nats")
        ).one()
        assert nats_delivery.status == DeliveryStatus.DELIVERED
        nats_delivery.status = DeliveryStatus.PENDING
    run_worker_once(app)

    async def read_back() -> list[dict[str, Any]]:
        connection = await nats.connect(NATS_URL)
        try:
            js = connection.jetstream()
            subscription = await js.pull_subscribe(f"{prefix}.>", durable=None, stream=stream)
            messages = await subscription.fetch(10, timeout=2)
            for message in messages:
                await message.ack()
            info = await js.stream_info(stream)
            assert info.state.messages == 1
            await js.delete_stream(stream)
            return [json.loads(m.data) for m in messages]
        finally:
            await connection.close()

    received = asyncio.run(read_back())
    assert [m["id"] for m in received] == [str(event_id)]
    assert received[0]["type"] == "thing.happened"
