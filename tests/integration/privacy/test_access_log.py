"""The access log through HTTP: every read of a person's data by staff or a back end is
recorded with who and why; a channel acting for the person (carts, checkout, ingestion)
is not; admins read it a page at a time, by any id the person had, in the API and on the
customer's 360 page."""

from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from omnikanal.auth.models import Role
from omnikanal.customers import service as customers_service
from omnikanal.privacy.models import AccessLogEntry
from tests.factories import basic, bearer, demo_login
from tests.integration.console.test_pages import (  # noqa: F401  (shop: the demo retailer)
    anna,
    annas_conversation,
    shop,
)
from tests.integration.console.test_signin import sign_in

ADMIN = bearer("sk_demo_admin")
AGENT = bearer("sk_demo_agent")
STORE = bearer("sk_demo_store")
WEB = bearer("sk_demo_web")
AGENT_NAME = "Demo support agent"


def erik(session_factory: sessionmaker[Session]) -> UUID:
    """Erik's app and web profiles were merged (the demo's merged person)."""
    with session_factory() as session:
        found = customers_service.find_profile_id(
            session, type_="email", raw_value="erik.berg@example.com"
        )
    assert found is not None
    return found


def entries(client: TestClient, **params: Any) -> Any:
    response = client.get("/v1/audit-log", params=params, headers=ADMIN)
    assert response.status_code == 200, response.text
    return response.json()


def logged(session_factory: sessionmaker[Session]) -> int:
    with session_factory() as session:
        return session.scalar(select(func.count()).select_from(AccessLogEntry)) or 0


def _read_paths(person: UUID, conversation: UUID) -> list[tuple[str, dict[str, str], str]]:
    """(path, extra query, action) of each staff read of a person's data."""
    return [
        (f"/v1/profiles/{person}", {}, "profile"),
        ("/v1/profiles", {"user_id": "anna-1001"}, "profile"),
        (f"/v1/profiles/{person}/timeline", {}, "timeline"),
        (f"/v1/profiles/{person}/merges", {}, "merge_log"),
        (f"/v1/loyalty/{person}", {}, "loyalty"),
        ("/v1/orders", {"profile_id": str(person)}, "orders"),
        ("/v1/carts/current", {"profile_id": str(person)}, "cart"),
        (f"/v1/profiles/{person}/consents", {}, "consents"),
        (f"/v1/profiles/{person}/notifications", {}, "notifications"),
        ("/v1/marketing/messages", {"profile_id": str(person)}, "messages"),
        (f"/v1/conversations/{conversation}", {}, "transcript"),
        (f"/v1/conversations/{conversation}/context", {}, "conversation"),
    ]


@pytest.mark.usefixtures("shop")
def test_each_staff_read_is_in_the_audit_log_with_actor_and_reason(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    person, conversation = anna(session_factory), annas_conversation(session_factory)
    for path, query, action in _read_paths(person, conversation):
        why = f"ticket 4711 ({action})"
        response = client.get(path, params={**query, "reason": why}, headers=AGENT)
        assert response.status_code == 200, (path, response.text)
        newest = entries(client, limit=1)["items"][0]
        assert newest["action"] == action, path
        assert newest["reason"] == why
        assert newest["actor"]["name"] == AGENT_NAME
        assert newest["actor"]["role"] == "agent"
        assert newest["actor"]["kind"] == "secret_key"
        assert UUID(newest["profile_id"]) == person
        if action in ("transcript", "conversation"):
            assert UUID(newest["conversation_id"]) == conversation
    # The reason is optional; the actor's id is the key's, and filters.
    client.get(f"/v1/profiles/{person}", headers=AGENT)
    newest = entries(client, limit=1)["items"][0]
    assert newest["reason"] is None
    by_agent = entries(client, actor_id=newest["actor"]["id"], limit=500)["items"]
    assert len(by_agent) == len(_read_paths(person, conversation)) + 1
    timeline_reads = entries(client, action="timeline")["items"]
    assert [e["action"] for e in timeline_reads] == ["timeline"]


@pytest.mark.usefixtures("shop")
def test_a_failed_read_records_nothing(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    unknown = "0190f0f0-0000-7000-8000-000000000000"
    assert client.get(f"/v1/profiles/{unknown}", headers=AGENT).status_code == 404
    assert (
        client.get(f"/v1/profiles/{anna(session_factory)}", headers=bearer("sk_x")).status_code
        == 401
    )
    assert logged(session_factory) == 0


@pytest.mark.usefixtures("shop")
def test_staff_changes_to_a_person_are_recorded_but_a_preference_centre_is_not(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    person = anna(session_factory)
    change = {"consents": [{"purpose": "marketing", "channel": "email", "granted": False}]}
    put = client.put(f"/v1/profiles/{person}/consents", json=change, headers=WEB)
    assert put.status_code == 200, put.text
    assert logged(session_factory) == 0
    put = client.put(f"/v1/profiles/{person}/consents", json=change, headers=AGENT)
    assert put.status_code == 200, put.text
    assert [e["action"] for e in entries(client)["items"]] == ["consent_change"]
    merged_person = erik(session_factory)
    unmerged = client.post(f"/v1/profiles/{merged_person}/unmerge", headers=AGENT)
    assert unmerged.status_code == 200, unmerged.text
    newest = entries(client, limit=1)["items"][0]
    assert (newest["action"], newest["profile_id"]) == ("unmerge", str(merged_person))
    assert newest["actor"]["name"] == AGENT_NAME


@pytest.mark.usefixtures("shop")
def test_channel_carts_checkout_and_ingestion_add_no_entries(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    track = client.post(
        "/v1/track",
        json={"anonymousId": "lena-laptop", "event": "Product Viewed"},
        headers=basic("wk_demo_web"),
    )
    assert track.status_code == 200, track.text
    identify = client.post(
        "/v1/identify",
        json={"anonymousId": "lena-laptop", "traits": {"email": "lena@example.com"}},
        headers=basic("wk_demo_web"),
    )
    assert identify.status_code == 200, identify.text
    cart = client.post(
        "/v1/carts",
        json={"currency": "SEK", "anonymous_id": "lena-laptop", "email": "lena@example.com"},
        headers=WEB,
    )
    assert cart.status_code == 201, cart.text
    cart_id = cart.json()["id"]
    added = client.post(f"/v1/carts/{cart_id}/items", json={"sku": "SCARF-MERINO-RED"}, headers=WEB)
    assert added.status_code == 200, added.text
    assert client.get(f"/v1/carts/{cart_id}", headers=WEB).status_code == 200
    current = client.get("/v1/carts/current", params={"anonymous_id": "lena-laptop"}, headers=WEB)
    assert current.status_code == 200, current.text
    order = client.post(
        f"/v1/carts/{cart_id}/checkout",
        json={
            "fulfilment": {"type": "click_and_collect", "location": "gbg-avenyn"},
            "tenders": [{"type": "card", "reference": "tok_visa_4242"}],
        },
        headers=WEB,
    )
    assert order.status_code == 201, order.text
    assert client.get(f"/v1/orders/{order.json()['id']}", headers=WEB).status_code == 200
    assert logged(session_factory) == 0
    # The same order read by a store's staff is theirs to answer for.
    assert client.get(f"/v1/orders/{order.json()['id']}", headers=STORE).status_code == 200
    assert [e["action"] for e in entries(client)["items"]] == ["orders"]


@pytest.mark.usefixtures("shop")
@pytest.mark.parametrize(
    "key", ["sk_demo_agent", "sk_demo_store", "sk_demo_marketer", "sk_demo_analyst", "sk_demo_web"]
)
def test_only_admins_read_the_audit_log(client: TestClient, key: str) -> None:
    response = client.get("/v1/audit-log", headers=bearer(key))
    assert response.status_code == 403
    assert response.json()["code"] == "role_not_allowed"
    assert client.get("/v1/audit-log").status_code == 401


@pytest.mark.usefixtures("shop")
def test_the_audit_log_pages_newest_first(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    person = anna(session_factory)
    for n in range(5):
        assert (
            client.get(f"/v1/profiles/{person}", params={"reason": f"read {n}"}, headers=AGENT)
        ).status_code == 200
    reasons: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = entries(client, limit=2, **({"cursor": cursor} if cursor else {}))
        assert len(page["items"]) <= 2
        reasons += [e["reason"] for e in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert reasons == [f"read {n}" for n in reversed(range(5))]
    times = [e["at"] for e in entries(client)["items"]]
    assert times == sorted(times, reverse=True)
    bad = client.get("/v1/audit-log", params={"cursor": "nonsense"}, headers=ADMIN)
    assert bad.status_code == 400
    assert bad.json()["code"] == "invalid_cursor"
    # since and until bound the time; an action that does not exist is refused.
    first, last = times[-1], times[0]
    assert len(entries(client, since=last)["items"]) >= 1
    assert entries(client, until=first)["items"] == []
    unknown = client.get("/v1/audit-log", params={"action": "peek"}, headers=ADMIN)
    assert unknown.status_code == 422


@pytest.mark.usefixtures("shop")
def test_a_merged_away_id_finds_the_persons_entries(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    person = erik(session_factory)
    merged_ids = client.get(f"/v1/profiles/{person}", headers=ADMIN).json()["merged_ids"]
    assert merged_ids, "the demo's Erik was merged from his devices"
    old_id = merged_ids[0]
    # One read under the survivor's id, one under the merged-away id (loyalty keeps it).
    client.get(f"/v1/profiles/{person}/timeline", params={"reason": "by survivor"}, headers=AGENT)
    client.get(f"/v1/loyalty/{old_id}", params={"reason": "by old id"}, headers=AGENT)
    for asked in (old_id, str(person)):
        reasons = {e["reason"] for e in entries(client, profile_id=asked)["items"]}
        assert {"by survivor", "by old id"} <= reasons
    # Another person's entries stay out, and theirs are found by their id alone.
    other = str(anna(session_factory))
    client.get(f"/v1/profiles/{other}", headers=AGENT)
    assert {e["profile_id"] for e in entries(client, profile_id=other)["items"]} == {other}
    assert other not in {e["profile_id"] for e in entries(client, profile_id=old_id)["items"]}


@pytest.mark.usefixtures("shop")
def test_the_360_page_shows_accesses_to_an_admin_and_not_to_an_agent(
    client: TestClient, app: Any, session_factory: sessionmaker[Session]
) -> None:
    person = anna(session_factory)
    client.get(f"/v1/profiles/{person}", params={"reason": "parcel lost"}, headers=AGENT)
    sign_in(client, demo_login(Role.AGENT))
    page = client.get(f"/console/customers/{person}", params={"reason": "callback"})
    assert page.status_code == 200
    assert "Who read this customer" not in page.text
    assert client.get(f"/console/customers/{person}/access-log").status_code == 403
    newest = entries(client, limit=1)["items"][0]
    assert (newest["action"], newest["reason"]) == ("profile_360", "callback")
    conversation = annas_conversation(session_factory)
    assert client.get(f"/console/inbox/{conversation}").status_code == 200
    newest = entries(client, limit=1)["items"][0]
    assert (newest["action"], newest["conversation_id"]) == ("conversation", str(conversation))

    admin = TestClient(app, raise_server_exceptions=False)
    sign_in(admin, demo_login(Role.ADMIN))
    page = admin.get(f"/console/customers/{person}")
    assert page.status_code == 200
    assert "Who read this customer" in page.text
    assert "parcel lost" in page.text
    assert "callback" in page.text
    assert AGENT_NAME in page.text
    assert "profile 360" in page.text
    assert "Older accesses" not in page.text
    for n in range(12):
        client.get(f"/console/customers/{person}", params={"reason": f"look {n}"})
    page = admin.get(f"/console/customers/{person}")
    assert "look 11" in page.text
    assert "look 0" not in page.text
    more = page.text.split('<p class="pager"><a href="')[-1].split('"')[0]
    assert more.startswith(f"/console/customers/{person}/access-log?cursor=")
    older = admin.get(more.replace("&amp;", "&"))
    assert older.status_code == 200
    assert "look 0" in older.text
    assert "look 11" not in older.text
