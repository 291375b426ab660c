"""The limits of one ingested message: a message past them is rejected alone, with the field
named, and the rest of its batch is stored (README, "Limits")."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from omnikanal.auth.models import Channel
from omnikanal.customers.models import Identifier, MergeLogEntry
from omnikanal.events.models import Event
from tests.factories import basic, create_source


@pytest.fixture
def web(session_factory: sessionmaker[Session]) -> dict[str, str]:
    return basic(create_source(session_factory, channel=Channel.WEB, name="Web shop"))


def track(message_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": "track",
        "event": "Product Viewed",
        "anonymousId": f"anon-{message_id}",
        "messageId": message_id,
        "properties": {"sku": "COAT-1"},
        **fields,
    }


def nested(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {"a": "bottom"}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


def stored_ids(factory: sessionmaker[Session]) -> set[str]:
    with factory() as session:
        return set(session.scalars(select(Event.message_id)))


def send_batch(
    client: TestClient, headers: dict[str, str], batch: list[Any], **envelope: Any
) -> dict[str, Any]:
    response = client.post("/v1/batch", json={"batch": batch, **envelope}, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def rejected_fields(body: dict[str, Any]) -> dict[int, list[str]]:
    return {r["index"]: [e["field"] for e in r["errors"]] for r in body["rejected"]}


# -- nesting --


def test_a_deeply_nested_message_is_rejected_alone_and_ingestion_goes_on(
    client: TestClient, web: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    batch = [
        track("ok-0"),
        track("deep-300", properties=nested(300)),
        track("ok-2"),
        track("deep-100", properties={"outer": [nested(100)]}),
        track("ok-4", context={"page": nested(20)}),
    ]
    body = send_batch(client, web, batch)
    assert (body["received"], body["stored"]) == (5, 3)
    fields = rejected_fields(body)
    assert set(fields) == {1, 3}
    assert fields[1][0].startswith("batch[1].properties.a.a.a")
    assert fields[3][0].startswith("batch[3].properties.outer[0].a.a")
    assert {r["code"] for r in body["rejected"]} == {"invalid_message"}
    assert "32 levels" in body["rejected"][0]["reason"]
    assert stored_ids(session_factory) == {"ok-0", "ok-2", "ok-4"}
    # The process still ingests, and says it is ready.
    again = client.post("/v1/track", json=track("after"), headers=web)
    assert again.status_code == 200
    assert again.json()["stored"] == 1
    assert client.get("/ready").status_code == 200


def test_a_lone_too_deep_message_is_a_400_naming_the_field(
    client: TestClient, web: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    response = client.post("/v1/track", json=track("deep", traits=nested(300)), headers=web)
    assert response.status_code == 400
    problem = response.json()
    assert problem["code"] == "invalid_message"
    assert problem["errors"][0]["field"].startswith("traits.a.a")
    # Nesting within the limit is taken: the message itself is the first of 32 levels.
    response = client.post("/v1/track", json=track("deep-ok", properties=nested(30)), headers=web)
    assert response.status_code == 200
    assert stored_ids(session_factory) == {"deep-ok"}


# -- NUL characters --


def test_a_nul_character_rejects_only_its_message(
    client: TestClient, web: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    batch = [track(f"m-{i}") for i in range(100)]
    batch[7]["userId"] = "u\x00-7"
    batch[20]["properties"] = {"note": "gift\x00wrap"}
    batch[30]["properties"] = {"a\x00b": 1}
    batch[40]["event"] = "Product\x00Viewed"
    batch[50]["context"] = {"traits": {"email": "x\x00@example.com"}}
    body = send_batch(client, web, batch)
    assert (body["received"], body["stored"]) == (100, 95)
    fields = rejected_fields(body)
    assert fields == {
        7: ["batch[7].userId"],
        20: ["batch[20].properties.note"],
        30: ["batch[30].properties.a\x00b"],
        40: ["batch[40].event"],
        50: ["batch[50].context.traits.email"],
    }
    assert "NUL" in body["rejected"][0]["reason"]
    assert len(stored_ids(session_factory)) == 95


def test_a_lone_message_with_a_nul_character_is_a_400(
    client: TestClient, web: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    response = client.post(
        "/v1/identify",
        json={"userId": "u-1", "traits": {"name": "A\x00"}, "messageId": "nul"},
        headers=web,
    )
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "traits.name", "message": "must not contain a NUL character (\\u0000)"}
    ]
    assert stored_ids(session_factory) == set()


# -- string lengths --


def test_a_too_long_message_id_rejects_only_its_message(
    client: TestClient, web: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    batch = [track(f"m-{i}") for i in range(100)]
    batch[50]["messageId"] = "x" * 201
    batch[60]["messageId"] = "y" * 200
    body = send_batch(client, web, batch)
    assert (body["received"], body["stored"]) == (100, 99)
    assert rejected_fields(body) == {50: ["batch[50].messageId"]}
    assert "y" * 200 in stored_ids(session_factory)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"userId": "u" * 301}, "userId"),
        ({"anonymousId": "a" * 301}, "anonymousId"),
        ({"event": "e" * 201}, "event"),
        ({"type": "page", "name": "n" * 201}, "name"),
        ({"type": "group", "groupId": "g" * 301}, "groupId"),
        ({"type": "alias", "userId": "u", "previousId": "p" * 301}, "previousId"),
        ({"type": "identify", "traits": {"email": "e" * 300 + "@x.se"}}, "traits.email"),
        # Lower-cased, this address grows past the identifier column (İ is two characters).
        ({"context": {"traits": {"email": "İ" * 200 + "@x.se"}}}, "context.traits.email"),
        ({"type": "identify", "traits": {"instagram": "@" + "h" * 301}}, "traits.instagram"),
        ({"type": "identify", "traits": {"loyalty_card": "7" * 301}}, "traits.loyalty_card"),
    ],
)
def test_strings_longer_than_their_column_reject_only_their_message(
    client: TestClient,
    web: dict[str, str],
    session_factory: sessionmaker[Session],
    fields: dict[str, Any],
    field: str,
) -> None:
    body = send_batch(client, web, [track("ok-0"), track("long", **fields), track("ok-2")])
    assert body["stored"] == 2
    assert rejected_fields(body) == {1: [f"batch[1].{field}"]}
    assert stored_ids(session_factory) == {"ok-0", "ok-2"}


def test_identifiers_at_their_longest_are_stored(
    client: TestClient, web: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    message = {
        "type": "identify",
        "messageId": "m" * 200,
        "userId": "u" * 300,
        "anonymousId": "a" * 300,
        "traits": {"email": "e" * 290 + "@x.se", "instagram": "h" * 300},
    }
    response = client.post("/v1/identify", json=message, headers=web)
    assert response.status_code == 200, response.text
    assert response.json()["stored"] == 1
    with session_factory() as session:
        longest = session.scalar(select(func.max(func.length(Identifier.value))))
    assert longest == 300


def test_identifiers_at_their_longest_merge_two_people(
    client: TestClient, web: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    """The merge log describes the merge in words that name the identifiers; at their
    longest those words outgrow their column and are cut, the identifiers kept in full."""
    user_id, device, email = "u" * 300, "a" * 300, "e" * 290 + "@x.se"
    messages = [
        {"userId": user_id, "messageId": "1"},
        {"anonymousId": device, "traits": {"email": email}, "messageId": "2"},
        {"userId": user_id, "anonymousId": device, "traits": {"email": email}, "messageId": "3"},
    ]
    for message in messages:
        response = client.post("/v1/identify", json=message, headers=web)
        assert response.status_code == 200, response.text
    with session_factory() as session:
        entry = session.scalars(select(MergeLogEntry)).one()
    assert len(entry.rule) == 500
    assert {"type": "email", "value": email} in entry.linking


# -- times --


def test_an_absurd_timestamp_rejects_only_its_message(
    client: TestClient, web: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    batch = [
        track("ok-0"),
        track("year-1-to-9999", timestamp="0001-01-01T00:00:00Z", sentAt="9999-12-31T23:59:59Z"),
        track("year-1", timestamp="0001-01-01T00:00:00+05:00"),
        track("year-9999", timestamp="9999-12-31T23:59:59-05:00"),
        track("own-sent-at", sentAt="0001-01-01T00:00:00Z"),
        # Each time is possible, the skew between them is not: it would put the event in -6000.
        track("skew", timestamp="1970-01-02T00:00:00Z", sentAt="9999-01-01T00:00:00Z"),
        # A device whose clock was never set: the correction puts the event at arrival.
        track("epoch", timestamp="1970-01-01T00:00:00Z", sentAt="1970-01-01T00:00:10Z"),
    ]
    before = datetime.now(UTC)
    body = send_batch(client, web, batch)
    assert body["stored"] == 2
    assert rejected_fields(body) == {
        1: ["batch[1].timestamp", "batch[1].sentAt"],
        2: ["batch[2].timestamp"],
        3: ["batch[3].timestamp"],
        4: ["batch[4].sentAt"],
        5: ["batch[5].timestamp"],
    }
    skew = next(r for r in body["rejected"] if r["index"] == 5)
    assert "days before sentAt" in skew["reason"]
    with session_factory() as session:
        epoch = session.scalars(select(Event).where(Event.message_id == "epoch")).one()
    assert before - timedelta(seconds=11) <= epoch.timestamp <= datetime.now(UTC)


def test_a_batch_sent_at_far_from_its_messages_rejects_them_alone(
    client: TestClient, web: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    batch = [
        track("old", timestamp="0001-01-01T00:00:00Z"),
        track("no-timestamp"),
        track("own-sent-at", timestamp="2026-01-01T00:00:00Z", sentAt="2026-01-01T00:00:05Z"),
    ]
    body = send_batch(client, web, batch, sentAt="9999-01-01T00:00:00Z")
    assert rejected_fields(body) == {0: ["batch[0].timestamp"]}
    assert stored_ids(session_factory) == {"no-timestamp", "own-sent-at"}


@pytest.mark.parametrize(
    "sent_at", ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+01:00", "1969-12-31T23:59:59Z"]
)
def test_an_absurd_batch_sent_at_is_a_400_naming_it(
    client: TestClient, web: dict[str, str], session_factory: sessionmaker[Session], sent_at: str
) -> None:
    response = client.post(
        "/v1/batch", json={"batch": [track("m-1")], "sentAt": sent_at}, headers=web
    )
    assert response.status_code == 400
    problem = response.json()
    assert problem["code"] == "invalid_batch"
    assert [e["field"] for e in problem["errors"]] == ["sentAt"]
    assert stored_ids(session_factory) == set()
