"""Profiles through HTTP: lookups, merges, traits, the timeline, unmerge (S1, S10)."""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from omnikanal.auth.models import Channel, Role
from tests.factories import basic, bearer, create_secret_key, create_source

Headers = dict[str, str]


@pytest.fixture
def web(session_factory: sessionmaker[Session]) -> Headers:
    return basic(create_source(session_factory, channel=Channel.WEB, name="Web shop"))


@pytest.fixture
def till(session_factory: sessionmaker[Session]) -> Headers:
    return basic(
        create_source(
            session_factory, channel=Channel.POS, name="Tills Göteborg", location="gbg-avenyn"
        )
    )


@pytest.fixture
def agent(session_factory: sessionmaker[Session]) -> Headers:
    return bearer(create_secret_key(session_factory, role=Role.AGENT))


def send(client: TestClient, headers: Headers, *messages: dict[str, Any]) -> None:
    response = client.post("/v1/batch", json={"batch": list(messages)}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["rejected"] == []


def find(client: TestClient, headers: Headers, **query: str) -> dict[str, Any]:
    response = client.get("/v1/profiles", params=query, headers=headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    assert len(items) == 1, items
    return items[0]


def identifiers(profile: dict[str, Any]) -> set[tuple[str, str]]:
    return {(i["type"], i["value"]) for i in profile["identifiers"]}


def test_lookup_by_any_identifier_in_any_spelling(
    client: TestClient, web: Headers, agent: Headers
) -> None:
    send(
        client,
        web,
        {
            "type": "identify",
            "userId": "u-anna",
            "traits": {
                "email": "Anna.Svensson@Example.com",
                "phone": "070-123 45 67",
                "instagram": "@AnnaS",
            },
        },
    )
    profile = find(client, agent, email="  ANNA.svensson@example.COM")
    assert find(client, agent, phone="+46 70 123 45 67")["id"] == profile["id"]
    assert find(client, agent, user_id="u-anna")["id"] == profile["id"]
    assert (
        find(client, agent, identifier_type="instagram", identifier_value="annas")["id"]
        == profile["id"]
    )
    assert ("phone", "+46701234567") in identifiers(profile)
    assert profile["traits"]["email"] == "anna.svensson@example.com"
    assert client.get("/v1/profiles?email=nobody@example.com", headers=agent).json() == {
        "items": []
    }


def test_an_email_in_either_unicode_form_is_one_person(
    client: TestClient, web: Headers, agent: Headers
) -> None:
    composed, decomposed = "jos\u00e9@example.com", "jose\u0301@example.com"
    send(client, web, {"type": "identify", "userId": "u-jose", "traits": {"email": composed}})
    send(client, web, {"type": "identify", "anonymousId": "tab-j", "traits": {"email": decomposed}})
    profile = find(client, agent, email=decomposed)
    assert find(client, agent, email=composed)["id"] == profile["id"]
    assert find(client, agent, anonymous_id="tab-j")["id"] == profile["id"]
    assert [v for t, v in identifiers(profile) if t == "email"] == [composed]


def test_a_lookup_with_a_nul_character_is_400_naming_the_parameter(
    client: TestClient, agent: Headers
) -> None:
    response = client.get("/v1/profiles", params={"email": "a\x00b@example.com"}, headers=agent)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "limit_exceeded"
    assert [e["field"] for e in response.json()["errors"]] == ["query.email"]


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ({}, 400, "bad_request"),
        ({"phone": "not a number"}, 422, "invalid_identifier"),
        ({"identifier_type": "fax", "identifier_value": "1"}, 422, "unknown_identifier_type"),
    ],
)
def test_bad_lookups_are_problems(
    client: TestClient, agent: Headers, query: dict[str, str], status: int, code: str
) -> None:
    response = client.get("/v1/profiles", params=query, headers=agent)
    assert response.status_code == status
    assert response.json()["code"] == code


def test_unknown_and_malformed_profile_ids(client: TestClient, agent: Headers) -> None:
    missing = client.get("/v1/profiles/0196a0b0-0000-7000-8000-000000000000", headers=agent)
    assert missing.status_code == 404
    assert missing.json()["code"] == "profile_not_found"
    malformed = client.get("/v1/profiles/not-a-uuid/timeline", headers=agent)
    assert malformed.status_code == 422
    assert malformed.json()["errors"][0]["field"] == "path.profile_id"


def test_a_merged_away_id_answers_with_the_survivor(
    client: TestClient, web: Headers, agent: Headers
) -> None:
    send(client, web, {"type": "identify", "userId": "u-1", "anonymousId": "phone"})
    send(client, web, {"type": "page", "anonymousId": "laptop", "name": "Coats"})
    known_id = find(client, agent, user_id="u-1")["id"]
    anonymous_id = find(client, agent, anonymous_id="laptop")["id"]
    assert anonymous_id != known_id
    send(client, web, {"type": "identify", "userId": "u-1", "anonymousId": "laptop"})
    survivor = find(client, agent, user_id="u-1")
    assert survivor["id"] == known_id
    assert survivor["merged_ids"] == [anonymous_id]
    answered = client.get(f"/v1/profiles/{anonymous_id}", headers=agent).json()
    assert answered["id"] == known_id
    assert {("anonymous_id", "laptop"), ("anonymous_id", "phone")} <= identifiers(answered)
    timeline = client.get(f"/v1/profiles/{anonymous_id}/timeline", headers=agent).json()
    assert timeline["profile_id"] == known_id
    assert [i["type"] for i in timeline["items"]] == ["identify", "page", "identify"]


def test_traits_take_the_latest_value_by_event_time(
    client: TestClient, web: Headers, agent: Headers
) -> None:
    send(
        client,
        web,
        {
            "type": "identify",
            "userId": "u-1",
            "traits": {"city": "Malmö", "name": "Anna"},
            "timestamp": "2026-06-01T10:00:00Z",
        },
        # Sent later but happened earlier (an offline app catching up): it loses.
        {
            "type": "identify",
            "userId": "u-1",
            "traits": {"city": "Lund", "shoe_size": 38},
            "timestamp": "2026-05-01T10:00:00Z",
        },
    )
    profile = find(client, agent, user_id="u-1")
    assert profile["traits"] == {"city": "Malmö", "name": "Anna", "shoe_size": 38}
    assert profile["first_seen"].startswith("2026-05-01")
    assert profile["last_seen"].startswith("2026-06-01")


def test_a_till_sale_lands_on_the_online_profile(
    client: TestClient, web: Headers, till: Headers, agent: Headers
) -> None:
    """S10: the till sends the customer's email in context.traits."""
    send(
        client,
        web,
        {"type": "identify", "anonymousId": "laptop", "traits": {"email": "bo@example.com"}},
        {"type": "track", "anonymousId": "laptop", "event": "Product Viewed"},
    )
    send(
        client,
        till,
        {
            "type": "track",
            "anonymousId": "till-receipt-77",
            "event": "Order Completed",
            "context": {"traits": {"email": "BO@example.com "}},
            "properties": {"order_id": "pos-77", "total": 59900, "currency": "SEK"},
        },
    )
    profile = find(client, agent, email="bo@example.com")
    assert {c["channel"] for c in profile["channels"]} == {"web", "pos"}
    timeline = client.get(f"/v1/profiles/{profile['id']}/timeline", headers=agent).json()
    sale = timeline["items"][0]
    assert (sale["name"], sale["channel"], sale["location"]) == (
        "Order Completed",
        "pos",
        "gbg-avenyn",
    )
    assert sale["source"] == "Tills Göteborg"
    assert sale["properties"]["order_id"] == "pos-77"


def test_the_timeline_pages_newest_first(client: TestClient, web: Headers, agent: Headers) -> None:
    send(
        client,
        web,
        *[
            {
                "type": "track",
                "userId": "u-1",
                "event": f"Step {i}",
                "timestamp": f"2026-03-0{i}T12:00:00Z",
            }
            for i in range(1, 8)
        ],
    )
    profile_id = find(client, agent, user_id="u-1")["id"]
    names: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = client.get(
            f"/v1/profiles/{profile_id}/timeline", params=params, headers=agent
        ).json()
        names += [item["name"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert names == [f"Step {i}" for i in range(7, 0, -1)]
    bad = client.get(f"/v1/profiles/{profile_id}/timeline?cursor=%%%", headers=agent)
    assert bad.status_code == 400


def test_unmerge_returns_identifiers_events_and_traits_to_the_right_side(
    client: TestClient,
    web: Headers,
    agent: Headers,
    session_factory: sessionmaker[Session],
) -> None:
    send(
        client,
        web,
        {"type": "identify", "anonymousId": "kiosk", "traits": {"favourite_colour": "green"}},
        {"type": "page", "anonymousId": "kiosk", "name": "Kiosk start"},
        {"type": "identify", "userId": "u-1", "traits": {"name": "Anna"}},
        {"type": "track", "userId": "u-1", "event": "Product Viewed"},
    )
    kiosk_id = find(client, agent, anonymous_id="kiosk")["id"]
    # A wrong link: the kiosk was identified as Anna.
    send(client, web, {"type": "identify", "userId": "u-1", "anonymousId": "kiosk"})
    send(client, web, {"type": "page", "anonymousId": "kiosk", "name": "After the merge"})
    merged = find(client, agent, user_id="u-1")
    assert ("anonymous_id", "kiosk") in identifiers(merged)
    assert merged["traits"]["favourite_colour"] == "green"
    log = client.get(f"/v1/profiles/{merged['id']}/merges", headers=agent).json()
    assert log[0]["action"] == "merged"
    assert log[0]["other_profile_id"] == kiosk_id
    assert {"type": "anonymous_id", "value": "kiosk"} in log[0]["linking"]
    assert "shared identifier" in log[0]["rule"]

    store = bearer(create_secret_key(session_factory, role=Role.STORE))
    assert client.post(f"/v1/profiles/{merged['id']}/unmerge", headers=store).status_code == 403
    response = client.post(
        f"/v1/profiles/{merged['id']}/unmerge",
        json={"merge_id": log[0]["id"]},
        headers={**agent, "Idempotency-Key": "undo-1"},
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["restored_profile"]["id"] == kiosk_id
    assert identifiers(result["restored_profile"]) == {("anonymous_id", "kiosk")}
    assert ("anonymous_id", "kiosk") not in identifiers(result["profile"])
    assert "favourite_colour" not in result["profile"]["traits"]
    assert result["restored_profile"]["traits"] == {"favourite_colour": "green"}
    assert kiosk_id not in result["profile"]["merged_ids"]

    def timeline_names(profile_id: str) -> list[str]:
        page = client.get(f"/v1/profiles/{profile_id}/timeline", headers=agent).json()
        return [item["name"] or item["type"] for item in page["items"]]

    # The kiosk's events, including the one after the merge, went back with it.
    assert timeline_names(kiosk_id) == ["After the merge", "Kiosk start", "identify"]
    assert timeline_names(merged["id"]) == ["identify", "Product Viewed", "identify"]
    assert client.get(f"/v1/profiles/{kiosk_id}", headers=agent).json()["id"] == kiosk_id

    replay = client.post(
        f"/v1/profiles/{merged['id']}/unmerge",
        json={"merge_id": log[0]["id"]},
        headers={**agent, "Idempotency-Key": "undo-1"},
    )
    assert replay.json() == result
    again = client.post(f"/v1/profiles/{merged['id']}/unmerge", headers=agent)
    assert again.status_code == 409
    assert again.json()["code"] == "no_merge_to_undo"
    actions = [
        e["action"] for e in client.get(f"/v1/profiles/{kiosk_id}/merges", headers=agent).json()
    ]
    assert actions == ["unmerged", "merged"]
