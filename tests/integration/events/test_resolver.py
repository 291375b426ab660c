"""The durable append and the resolver behind it: ingestion answers before placement, a
crashed batch is repeated with no double effect, replays store nothing twice, and one
resolver works per database at a time."""

import time
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from omnikanal.auth.models import Channel
from omnikanal.customers.models import MergeLogEntry, Profile
from omnikanal.events import repository as events_repository
from omnikanal.events import service
from omnikanal.events.dependencies import POSITION_HEADER
from omnikanal.events.models import Event, InboxMessage
from omnikanal.events.resolver import Resolver
from omnikanal.outbox.models import OutboxEvent
from tests.factories import basic, bearer, create_secret_key, create_source

Headers = dict[str, str]


@pytest.fixture
def web(session_factory: sessionmaker[Session]) -> Headers:
    return basic(create_source(session_factory, channel=Channel.WEB, name="Web shop"))


@pytest.fixture
def admin(session_factory: sessionmaker[Session]) -> Headers:
    return bearer(create_secret_key(session_factory))


@pytest.fixture
def stopped(app: FastAPI) -> Resolver:
    """The app's resolver with no thread: it resolves only when the test drives it."""
    resolver: Resolver = app.state.resolver
    resolver.enabled = False
    return resolver


def count(factory: sessionmaker[Session], model: type[Any], *where: Any) -> int:
    with factory() as session:
        query = select(func.count()).select_from(model).where(*where)
        return int(session.scalar(query) or 0)


def profiles(client: TestClient, admin: Headers, **identifier: str) -> list[dict[str, Any]]:
    response = client.get("/v1/profiles", params=identifier, headers=admin)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def identify(message_id: str, **fields: Any) -> dict[str, Any]:
    return {"type": "identify", "messageId": message_id, **fields}


def test_the_append_answers_before_resolution(
    plain_client: TestClient, stopped: Resolver, web: Headers, admin: Headers
) -> None:
    answer = plain_client.post(
        "/v1/identify",
        json=identify("m-1", userId="u-1", traits={"email": "a@example.com"}),
        headers=web,
    )
    assert answer.status_code == 200
    assert answer.json()["stored"] == 1
    position = int(answer.headers[POSITION_HEADER])
    assert position > 0
    assert profiles(plain_client, admin, user_id="u-1") == []
    with stopped.session_factory() as session:
        assert not service.is_resolved(session, position=position)

    assert stopped.drain() == 1
    with stopped.session_factory() as session:
        assert service.is_resolved(session, position=position)
    (found,) = profiles(plain_client, admin, email="a@example.com")
    assert {i["value"] for i in found["identifiers"]} == {"u-1", "a@example.com"}


def test_a_resolver_crash_mid_batch_repeats_it_with_no_double_effect(
    plain_client: TestClient,
    stopped: Resolver,
    web: Headers,
    admin: Headers,
    session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Two people first: a device with an email, a signed-in user.
    first = [
        identify("m-1", anonymousId="laptop", traits={"email": "bo@example.com"}),
        identify("m-2", userId="bo", traits={"plan": "silver"}),
    ]
    assert plain_client.post("/v1/batch", json={"batch": first}, headers=web).status_code == 200
    stopped.drain()
    assert count(session_factory, Profile) == 2
    # Then a batch that merges them and sets a trait.
    linking = [
        identify("m-3", userId="bo", anonymousId="laptop", traits={"plan": "gold"}),
        {"type": "track", "event": "Viewed", "userId": "bo", "messageId": "m-4"},
    ]
    assert plain_client.post("/v1/batch", json={"batch": linking}, headers=web).status_code == 200

    def crash(*_: object, **__: object) -> None:
        raise RuntimeError("power cut")

    # After the placement, before the commit.
    monkeypatch.setattr(events_repository, "delete_from_inbox", crash)
    with pytest.raises(RuntimeError, match="power cut"):
        stopped.resolve_batch()
    assert count(session_factory, Event) == 2
    assert count(session_factory, MergeLogEntry) == 0
    assert count(session_factory, InboxMessage) == 2
    monkeypatch.undo()

    assert stopped.drain() == 2
    assert stopped.drain() == 0
    assert count(session_factory, Event) == 4
    assert count(session_factory, MergeLogEntry, MergeLogEntry.action == "merged") == 1
    assert count(session_factory, OutboxEvent, OutboxEvent.type == "profile.merged") == 1
    assert count(session_factory, Profile, Profile.merged_into.is_(None)) == 1
    (bo,) = profiles(plain_client, admin, user_id="bo")
    assert bo["traits"]["plan"] == "gold"
    assert {i["value"] for i in bo["identifiers"]} == {"bo", "laptop", "bo@example.com"}
    with session_factory() as session:
        assert {str(p) for p in session.scalars(select(Event.profile_id))} == {bo["id"]}


def test_replayed_batches_store_nothing_twice_before_and_after_resolution(
    plain_client: TestClient,
    stopped: Resolver,
    web: Headers,
    session_factory: sessionmaker[Session],
) -> None:
    batch = {"batch": [identify(f"m-{i}", userId=f"u-{i}") for i in range(20)]}
    first = plain_client.post("/v1/batch", json=batch, headers=web).json()
    assert (first["stored"], first["duplicates"]) == (20, 0)
    # Waiting in the inbox.
    waiting = plain_client.post("/v1/batch", json=batch, headers=web)
    assert (waiting.json()["stored"], waiting.json()["duplicates"]) == (0, 20)
    assert int(waiting.headers[POSITION_HEADER]) >= 20
    assert count(session_factory, InboxMessage) == 20
    assert stopped.drain() == 20
    # Resolved: stored as events, gone from the inbox.
    resolved = plain_client.post("/v1/batch", json=batch, headers=web)
    assert (resolved.json()["stored"], resolved.json()["duplicates"]) == (0, 20)
    assert count(session_factory, InboxMessage) == 0
    assert stopped.drain() == 0
    assert count(session_factory, Event) == 20
    assert count(session_factory, Profile) == 20


def test_one_resolver_works_per_database_and_another_takes_over_when_its_lease_lapses(
    plain_client: TestClient,
    stopped: Resolver,
    web: Headers,
    session_factory: sessionmaker[Session],
) -> None:
    batch = {"batch": [identify(f"m-{i}", userId=f"u-{i}") for i in range(8)]}
    assert plain_client.post("/v1/batch", json=batch, headers=web).status_code == 200
    first, second = (
        Resolver(session_factory, batch_size=2, lease_seconds=1.0, enabled=False) for _ in range(2)
    )
    assert first.resolve_batch() == 2
    assert second.resolve_batch() is None  # the lease is the first's
    assert first.resolve_batch() == 2  # renewed
    assert second.resolve_batch() is None
    # The first stops (dies): once its lease lapses, the second takes over.
    time.sleep(1.2)
    assert second.resolve_batch() == 2
    assert first.resolve_batch() is None
    assert second.drain() == 2
    assert count(session_factory, InboxMessage) == 0
    assert count(session_factory, Event) == 8


def test_a_resolver_that_stops_hands_its_lease_over_at_once(
    plain_client: TestClient,
    stopped: Resolver,
    web: Headers,
    session_factory: sessionmaker[Session],
) -> None:
    batch = {"batch": [identify(f"m-{i}", userId=f"u-{i}") for i in range(4)]}
    assert plain_client.post("/v1/batch", json=batch, headers=web).status_code == 200
    first = Resolver(session_factory, batch_size=2, lease_seconds=60.0, poll_seconds=0.05)
    second = Resolver(session_factory, batch_size=2, lease_seconds=60.0, enabled=False)
    assert first.resolve_batch() == 2
    assert second.resolve_batch() is None
    first.start()
    first.close()  # a clean stop (SIGTERM to omnikanal worker): no 60 s wait for a lapse
    second.drain()  # whatever the first left, now that its lease is free
    assert count(session_factory, InboxMessage) == 0
    assert count(session_factory, Event) == 4
    third = Resolver(session_factory, enabled=False)
    assert (
        plain_client.post(
            "/v1/batch", json={"batch": [identify("m-late", userId="u-late")]}, headers=web
        ).status_code
        == 200
    )
    # The lease is free: whoever comes next resolves, long before 60 s.
    assert third.resolve_batch() == 1
