"""Segment-spec ingestion through HTTP: storing, de-duplicating, rejecting, limits."""

import gzip
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from omnikanal.auth.models import Channel
from omnikanal.customers.models import Identifier, Profile
from omnikanal.events import repository as events_repository
from omnikanal.events.models import Event
from tests.factories import basic, bearer, create_secret_key, create_source
from tests.reading import reading_client


@pytest.fixture
def web(session_factory: sessionmaker[Session]) -> dict[str, str]:
    return basic(create_source(session_factory, channel=Channel.WEB, name="Web shop"))


@pytest.fixture
def admin(session_factory: sessionmaker[Session]) -> dict[str, str]:
    return bearer(create_secret_key(session_factory))


def count(factory: sessionmaker[Session], model: type[Any]) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def track(message_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": "track",
        "event": "Product Viewed",
        "anonymousId": "anon-1",
        "messageId": message_id,
        "properties": {"sku": "COAT-1"},
        **fields,
    }


@pytest.mark.parametrize("type_", ["identify", "track", "page", "screen", "alias", "group"])
def test_every_message_type_is_stored(
    client: TestClient,
    web: dict[str, str],
    session_factory: sessionmaker[Session],
    type_: str,
) -> None:
    body: dict[str, Any] = {"userId": "u-1", "anonymousId": "a-1", "messageId": f"m-{type_}"}
    extra: dict[str, dict[str, Any]] = {
        "track": {"event": "Product Viewed"},
        "page": {"name": "Coats"},
        "screen": {"name": "Cart"},
        "alias": {"previousId": "a-1"},
        "group": {"groupId": "g-1", "traits": {"name": "Norrsken AB"}},
        "identify": {"traits": {"email": "a@example.com"}},
    }
    body |= extra[type_]
    response = client.post(f"/v1/{type_}", json=body, headers=web)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "success": True,
        "received": 1,
        "stored": 1,
        "duplicates": 0,
        "rejected": [],
    }
    with session_factory() as session:
        event = session.scalars(select(Event)).one()
    assert event.type == type_
    assert event.channel == "web"
    assert event.message["messageId"] == f"m-{type_}"


def test_the_event_keeps_source_channel_location_and_what_was_sent(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    till = basic(create_source(session_factory, channel=Channel.POS, location="gbg-avenyn"))
    properties = {"order_id": "r-9", "total": 129900, "currency": "SEK", "products": [{"sku": "C"}]}
    response = client.post(
        "/v1/track",
        json={"event": "Order Completed", "userId": "u-1", "properties": properties},
        headers=till,
    )
    assert response.status_code == 200
    with session_factory() as session:
        event = session.scalars(select(Event)).one()
    assert (event.channel, event.location, event.name) == ("pos", "gbg-avenyn", "Order Completed")
    assert event.message["properties"] == properties
    assert event.message_id.startswith("generated-")


def test_timestamps_are_corrected_for_clock_skew(
    client: TestClient, web: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    # The device's clock runs an hour fast: it stamped the event 10 s before sending.
    device_now = datetime.now(UTC) + timedelta(hours=1)
    sent = {
        "timestamp": (device_now - timedelta(seconds=10)).isoformat(),
        "sentAt": device_now.isoformat(),
    }
    before = datetime.now(UTC)
    client.post("/v1/track", json=track("skew", **sent), headers=web)
    after = datetime.now(UTC)
    with session_factory() as session:
        event = session.scalars(select(Event)).one()
    assert before - timedelta(seconds=10) <= event.timestamp <= after - timedelta(seconds=10)
    assert before <= event.received_at <= after
    # Without sentAt the client's timestamp is taken as it is.
    client.post(
        "/v1/track", json=track("no-sent-at", timestamp="2026-01-02T03:04:05Z"), headers=web
    )
    with session_factory() as session:
        stamped = session.scalars(select(Event).where(Event.message_id == "no-sent-at")).one()
    assert stamped.timestamp == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_a_repeated_message_id_is_stored_once(
    client: TestClient, web: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    first = client.post("/v1/batch", json={"batch": [track("m-1"), track("m-1")]}, headers=web)
    assert first.json()["stored"] == 1
    assert first.json()["duplicates"] == 1
    again = client.post("/v1/track", json=track("m-1"), headers=web)
    assert again.status_code == 200
    assert (again.json()["stored"], again.json()["duplicates"]) == (0, 1)
    # Another source may use the same id: it is another message.
    app_source = basic(create_source(session_factory, channel=Channel.APP))
    other = client.post("/v1/track", json=track("m-1"), headers=app_source)
    assert other.json()["stored"] == 1
    assert count(session_factory, Event) == 2


def test_a_batch_stores_the_valid_messages_and_names_the_rejected(
    client: TestClient, web: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    batch = [
        track("ok-1"),
        {"type": "track", "event": "Product Viewed", "messageId": "no-ids"},
        track("bad-props", properties="a string"),
        {"type": "track", "anonymousId": "a", "messageId": "no-event"},
        {"type": "teleport", "anonymousId": "a", "messageId": "bad-type"},
        "not an object",
        track("ok-2", timestamp="yesterday"),
        track("ok-3", userId=42),
        # What Segment's and RudderStack's clients send for an anonymous call.
        track("ok-4", userId=None, anonymousId="a-9"),
    ]
    response = client.post("/v1/batch", json={"batch": batch}, headers=web)
    assert response.status_code == 200
    body = response.json()
    assert (body["received"], body["stored"]) == (9, 3)
    rejected = {r["index"]: r for r in body["rejected"]}
    assert set(rejected) == {1, 2, 3, 4, 5, 6}
    # Fields are named as in the request, so that the problem's list stands on its own.
    assert rejected[1]["errors"][0]["field"] == "batch[1].userId"
    assert rejected[2]["errors"][0]["field"] == "batch[2].properties"
    assert rejected[3]["errors"][0]["field"] == "batch[3].event"
    assert rejected[4]["code"] == "unknown_type"
    assert rejected[5]["code"] == "invalid_message"
    assert rejected[6]["errors"][0]["field"] == "batch[6].timestamp"
    assert rejected[2]["message_id"] == "bad-props"
    with session_factory() as session:
        stored = set(session.scalars(select(Event.message_id)))
    assert stored == {"ok-1", "ok-3", "ok-4"}


def test_a_batch_with_nothing_valid_is_400(
    client: TestClient, web: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    response = client.post("/v1/batch", json={"batch": [{"type": "nope"}]}, headers=web)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "no_valid_messages"
    assert response.json()["rejected"][0]["code"] == "unknown_type"
    assert count(session_factory, Event) == 0


@pytest.mark.parametrize(
    ("path", "body", "code"),
    [
        ("/v1/track", b'{"event": "x",', "malformed_json"),
        ("/v1/batch", b"[1, 2]", "invalid_batch"),
        ("/v1/batch", b'{"batch": []}', "invalid_batch"),
        ("/v1/track", b'{"type": "identify", "userId": "u"}', "unknown_type"),
        ("/v1/identify", b'{"traits": {}}', "invalid_message"),
        ("/v1/track", b"[]", "invalid_message"),
    ],
)
def test_bad_requests_are_400_problems(
    client: TestClient, web: dict[str, str], path: str, body: bytes, code: str
) -> None:
    response = client.post(path, content=body, headers={**web, "content-type": "application/json"})
    assert response.status_code == 400
    problem = response.json()
    assert (problem["status"], problem["code"]) == (400, code)
    # Segment's clients read `message`.
    assert problem["message"] == problem["detail"]


def test_size_limits_are_segments(
    client: TestClient, web: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    big = {"blob": "x" * 33_000}
    single = client.post("/v1/track", json=track("big", properties=big), headers=web)
    assert single.status_code == 413
    assert single.json()["code"] == "message_too_large"
    # In a batch, only the oversized message is turned away.
    mixed = client.post(
        "/v1/batch", json={"batch": [track("small"), track("big", properties=big)]}, headers=web
    )
    assert mixed.json()["stored"] == 1
    assert mixed.json()["rejected"][0]["code"] == "message_too_large"
    # A batch over 500 KB is refused whole, even when it arrives gzip-compressed.
    batch = {"batch": [track(f"m-{i}", properties={"blob": "y" * 30_000}) for i in range(18)]}
    compressed = gzip.compress(orjson.dumps(batch))
    response = client.post(
        "/v1/batch",
        content=compressed,
        headers={**web, "content-type": "application/json", "content-encoding": "gzip"},
    )
    assert len(compressed) < 500 * 1024 < len(orjson.dumps(batch))
    assert response.status_code == 413
    assert count(session_factory, Event) == 1


def test_a_gzip_batch_is_stored(
    client: TestClient, web: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    body = gzip.compress(orjson.dumps({"batch": [track(f"g-{i}") for i in range(20)]}))
    response = client.post(
        "/v1/batch",
        content=body,
        headers={**web, "content-type": "application/json", "content-encoding": "gzip"},
    )
    assert response.json()["stored"] == 20
    assert count(session_factory, Event) == 20


def test_credentials(client: TestClient, web: dict[str, str], admin: dict[str, str]) -> None:
    assert client.post("/v1/track", json=track("x")).status_code == 401
    assert client.post("/v1/track", json=track("x"), headers=basic("wk_unknown")).status_code == 401
    # A secret key does not ingest, and a write key never reads.
    assert client.post("/v1/track", json=track("x"), headers=admin).status_code == 403
    assert client.get("/v1/profiles?email=a@b.se", headers=web).status_code == 403
    client.post("/v1/track", json=track("x"), headers=web)
    profile_id = client.get("/v1/profiles?anonymous_id=anon-1", headers=admin).json()["items"][0][
        "id"
    ]
    for path in ("", "/timeline", "/merges"):
        response = client.get(f"/v1/profiles/{profile_id}{path}", headers=web)
        assert response.status_code == 403
        assert response.json()["code"] == "wrong_key_kind"


def test_a_crash_mid_batch_writes_nothing_and_the_retry_stores_everything(
    client: TestClient,
    web: dict[str, str],
    session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    batch = {"batch": [track(f"c-{i}", userId=f"u-{i}") for i in range(10)]}

    def crash(*_: object, **__: object) -> None:
        raise RuntimeError("disk on fire")

    # The request path's only write: the append.
    monkeypatch.setattr(events_repository, "append_to_inbox", crash)
    failed = client.post("/v1/batch", json=batch, headers=web)
    assert failed.status_code == 500
    assert failed.json()["code"] == "internal_error"
    assert "disk on fire" not in failed.text
    # The identity graph changed nothing either: one transaction.
    assert count(session_factory, Profile) == 0
    assert count(session_factory, Identifier) == 0
    monkeypatch.undo()
    retried = client.post("/v1/batch", json=batch, headers=web)
    assert retried.json()["stored"] == 10
    assert count(session_factory, Event) == 10
    assert count(session_factory, Profile) == 10


def test_concurrent_writers_make_one_person_of_one_identity(
    app: FastAPI, web: dict[str, str], admin: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    """Eight clients send overlapping people at once: nothing lost, nobody doubled."""
    errors: list[str] = []

    def send(worker: int) -> None:
        client = reading_client(app)
        for round_ in range(5):
            batch = [
                {
                    "type": "identify",
                    "userId": f"u-{person}",
                    "anonymousId": f"w{worker}-p{person}",
                    "traits": {"email": f"p{person}@example.com"},
                    "messageId": f"w{worker}-r{round_}-p{person}",
                }
                for person in range(10)
            ]
            response = client.post("/v1/batch", json={"batch": batch}, headers=web)
            if response.status_code != 200 or response.json()["stored"] != 10:
                errors.append(response.text)

    threads = [threading.Thread(target=send, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert count(session_factory, Event) == 8 * 5 * 10
    with session_factory() as session:
        live = session.scalar(
            select(func.count()).select_from(Profile).where(Profile.merged_into.is_(None))
        )
    assert live == 10
    client = TestClient(app)
    for person in range(10):
        found = client.get(f"/v1/profiles?user_id=u-{person}", headers=admin).json()["items"]
        anonymous_ids = {i["value"] for i in found[0]["identifiers"] if i["type"] == "anonymous_id"}
        assert anonymous_ids == {f"w{w}-p{person}" for w in range(8)}
