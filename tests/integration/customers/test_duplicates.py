"""Duplicate customers through HTTP: people no identifier joins are suggested with a
probability and the fields that agreed; an agent accepts (a probabilistic merge, undone
like any merge) or rejects (remembered) (S1, S15)."""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from omnikanal.auth.models import Channel, Role
from omnikanal.cli import app as cli
from omnikanal.config import Settings
from omnikanal.privacy.models import AccessLogEntry
from tests.factories import basic, bearer, create_secret_key, create_source
from tests.febrl import birthday, entity, febrl4_slice
from tests.integration.customers.test_profiles import find, send

Headers = dict[str, str]


@pytest.fixture
def crm(session_factory: sessionmaker[Session]) -> Headers:
    return basic(create_source(session_factory, channel=Channel.WEB, name="CRM"))


@pytest.fixture
def agent(session_factory: sessionmaker[Session]) -> Headers:
    return bearer(create_secret_key(session_factory, role=Role.AGENT))


@pytest.fixture
def admin(session_factory: sessionmaker[Session]) -> Headers:
    return bearer(create_secret_key(session_factory, role=Role.ADMIN))


def person(email: str, first: str, last: str, street: str, postcode: str, city: str) -> Any:
    return {
        "type": "identify",
        "anonymousId": f"crm-{email}",
        "traits": {
            "email": email,
            "firstName": first,
            "lastName": last,
            "address": {"street": street, "postalCode": postcode, "city": city},
        },
    }


ANNA = person("anna.svensson@example.com", "Anna", "Svensson", "Storgatan 1", "753 20", "Uppsala")
ANA = person("ana.s@example.org", "Ana", "Svenson", "Storgt. 1", "75320", "Uppsala")
OTHERS = [
    person("erik@example.com", "Erik", "Lindqvist", "Kungsgatan 12", "111 43", "Stockholm"),
    person("maria@example.com", "Maria", "Svensson", "Drottninggatan 5", "753 10", "Uppsala"),
    person("anna.b@example.com", "Anna", "Berg", "Vasagatan 40", "411 37", "Göteborg"),
    person("johan@example.com", "Johan", "Nilsson", "Storgatan 9", "753 20", "Uppsala"),
]


def compute(client: TestClient, admin: Headers) -> dict[str, Any]:
    response = client.post("/v1/profiles/duplicates/compute", headers=admin)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def suggestions(client: TestClient, agent: Headers, **query: Any) -> list[dict[str, Any]]:
    response = client.get("/v1/profiles/duplicates", params=query, headers=agent)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_the_same_person_typed_differently_is_suggested_and_others_are_not(
    client: TestClient,
    crm: Headers,
    agent: Headers,
    admin: Headers,
    session_factory: sessionmaker[Session],
) -> None:
    send(client, crm, ANNA, ANA, *OTHERS)
    anna = find(client, agent, email="anna.svensson@example.com")["id"]
    ana = find(client, agent, email="ana.s@example.org")["id"]

    result = compute(client, admin)
    assert result["people"] == 6
    assert result["added"] == 1

    [pair] = suggestions(client, agent)
    assert {pair["profile"]["id"], pair["other_profile"]["id"]} == {anna, ana}
    assert pair["status"] == "open"
    assert pair["probability"] >= 0.9
    assert pair["agreed"]["first_name"] == "fuzzy"
    assert pair["agreed"]["last_name"] == "fuzzy"
    assert pair["agreed"]["street"] == "exact"  # "Storgt." is "Storgatan"
    assert "email" not in pair["agreed"]
    shown = {pair["profile"]["email"], pair["other_profile"]["email"]}
    assert shown == {"anna.svensson@example.com", "ana.s@example.org"}
    assert {pair["profile"]["city"], pair["other_profile"]["city"]} == {"Uppsala"}
    # A second computation finds the same pair: updated, not added again.
    again = compute(client, admin)
    assert (again["added"], again["updated"]) == (0, 1)

    # Both people shown were read: the access log says who looked.
    with session_factory() as session:
        logged = {
            str(e.profile_id)
            for e in session.query(AccessLogEntry).filter(AccessLogEntry.action == "duplicates")
        }
    assert logged == {anna, ana}


def test_accept_merges_with_rule_probabilistic_and_can_be_unmerged(
    client: TestClient, crm: Headers, agent: Headers, admin: Headers
) -> None:
    send(client, crm, ANNA, ANA, *OTHERS)
    send(
        client,
        crm,
        {"type": "track", "anonymousId": "crm-ana.s@example.org", "event": "Order Completed"},
    )
    anna = find(client, agent, email="anna.svensson@example.com")["id"]
    ana = find(client, agent, email="ana.s@example.org")["id"]
    compute(client, admin)
    [pair] = suggestions(client, agent)

    response = client.post(f"/v1/profiles/duplicates/{pair['id']}/accept", headers=agent)
    assert response.status_code == 200, response.text
    accepted = response.json()
    assert accepted["suggestion"]["status"] == "accepted"
    survivor = accepted["profile"]
    assert survivor["id"] == anna  # the older profile stays
    assert ana in survivor["merged_ids"]
    assert ("email", "ana.s@example.org") in {
        (i["type"], i["value"]) for i in survivor["identifiers"]
    }
    assert find(client, agent, email="ana.s@example.org")["id"] == anna
    # Ana's order is on the one person's timeline now.
    timeline = client.get(f"/v1/profiles/{anna}/timeline", headers=agent).json()["items"]
    assert "Order Completed" in [item["name"] for item in timeline]

    [entry] = client.get(f"/v1/profiles/{anna}/merges", headers=agent).json()
    assert entry["id"] == accepted["merge_id"]
    assert entry["action"] == "merged"
    assert entry["rule"].startswith("probabilistic")
    assert f"{pair['probability']:.1%}" in entry["rule"]
    assert {"type": "match_probability", "value": f"{pair['probability']:.6f}"} in entry["linking"]
    # Decided: not open any more, and not suggested again.
    assert suggestions(client, agent) == []
    assert compute(client, admin)["added"] == 0
    assert [s["id"] for s in suggestions(client, agent, status="accepted")] == [pair["id"]]
    assert (
        client.post(f"/v1/profiles/duplicates/{pair['id']}/accept", headers=agent).status_code
        == 409
    )

    undone = client.post(
        f"/v1/profiles/{anna}/unmerge", json={"merge_id": accepted["merge_id"]}, headers=agent
    )
    assert undone.status_code == 200, undone.text
    assert undone.json()["restored_profile"]["id"] == ana
    assert find(client, agent, email="ana.s@example.org")["id"] == ana
    restored = client.get(f"/v1/profiles/{ana}/timeline", headers=agent).json()["items"]
    assert "Order Completed" in [item["name"] for item in restored]


def test_a_rejected_pair_is_remembered(
    client: TestClient, crm: Headers, agent: Headers, admin: Headers
) -> None:
    send(client, crm, ANNA, ANA, *OTHERS)
    compute(client, admin)
    [pair] = suggestions(client, agent)

    response = client.post(f"/v1/profiles/duplicates/{pair['id']}/reject", headers=agent)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "rejected"
    assert response.json()["decided_by"]

    again = compute(client, admin)
    assert again["found"] == 1
    assert again["added"] == 0
    assert suggestions(client, agent) == []
    assert [s["id"] for s in suggestions(client, agent, status="rejected")] == [pair["id"]]
    assert (
        client.post(f"/v1/profiles/duplicates/{pair['id']}/accept", headers=agent).status_code
        == 409
    )


def test_only_agents_decide_and_only_admins_compute(
    client: TestClient,
    crm: Headers,
    agent: Headers,
    admin: Headers,
    session_factory: sessionmaker[Session],
) -> None:
    send(client, crm, ANNA, ANA)
    compute(client, admin)
    [pair] = suggestions(client, agent)
    for role in (Role.STORE, Role.MARKETER, Role.ANALYST, Role.CHANNEL):
        channel = Channel.WEB if role is Role.CHANNEL else None
        other = bearer(create_secret_key(session_factory, role=role, channel=channel))
        assert client.get("/v1/profiles/duplicates", headers=other).status_code == 403
        for action in ("accept", "reject"):
            path = f"/v1/profiles/duplicates/{pair['id']}/{action}"
            assert client.post(path, headers=other).status_code == 403
        assert client.post("/v1/profiles/duplicates/compute", headers=other).status_code == 403
    assert client.post("/v1/profiles/duplicates/compute", headers=agent).status_code == 403
    assert client.get("/v1/profiles/duplicates").status_code == 401
    assert client.post("/v1/profiles/duplicates/nonsense/reject", headers=agent).status_code == 422
    missing = "/v1/profiles/duplicates/00000000-0000-7000-8000-000000000000/reject"
    assert client.post(missing, headers=agent).status_code == 404


def test_pages_follow_the_probability(
    client: TestClient, crm: Headers, agent: Headers, admin: Headers
) -> None:
    people = [
        ("Karin", "Holm", "Ågatan 3", "753 20", "Uppsala"),
        ("Oskar", "Berglund", "Sveavägen 88", "113 59", "Stockholm"),
        ("Leila", "Ekström", "Linnégatan 21", "413 04", "Göteborg"),
    ]
    twins = [
        person(f"p{i}-{copy}@example.com", *details)
        for i, details in enumerate(people)
        for copy in ("a", "b")
    ]
    send(client, crm, *twins)
    compute(client, admin)
    first = client.get("/v1/profiles/duplicates", params={"limit": 2}, headers=agent).json()
    assert len(first["items"]) == 2
    rest = client.get(
        "/v1/profiles/duplicates",
        params={"limit": 2, "cursor": first["next_cursor"]},
        headers=agent,
    ).json()
    everyone = first["items"] + rest["items"]
    assert len({s["id"] for s in everyone}) == 3
    assert rest["next_cursor"] is None
    bad = client.get("/v1/profiles/duplicates", params={"cursor": "nonsense"}, headers=agent)
    assert bad.status_code == 400


def test_a_febrl_slice_is_found(
    client: TestClient, crm: Headers, agent: Headers, admin: Headers
) -> None:
    """150 people of FEBRL4, each twice (once with typos), known only by name, birth date
    and address (an anonymous id each: no identifier joins them)."""
    rows = febrl4_slice(150)
    messages = [
        {
            "type": "identify",
            "anonymousId": row["rec_id"],
            "traits": {
                "first_name": row["given_name"] or None,
                "last_name": row["surname"] or None,
                "birthday": birthday(row),
                "address": {
                    "street": f"{row['street_number']} {row['address_1']}".strip(),
                    "street2": row["address_2"],
                    "postalCode": row["postcode"],
                    "city": row["suburb"],
                    "state": row["state"],
                },
            },
        }
        for row in rows
    ]
    for start in range(0, len(messages), 100):
        send(client, crm, *messages[start : start + 100])
    result = compute(client, admin)
    assert result["people"] == 300

    found: set[frozenset[str]] = set()
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 100, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/profiles/duplicates", params=params, headers=agent).json()
        for s in page["items"]:
            found.add(frozenset((s["profile"]["id"], s["other_profile"]["id"])))
        cursor = page["next_cursor"]
        if cursor is None:
            break
    person_of = {
        find(client, agent, anonymous_id=row["rec_id"])["id"]: entity(row["rec_id"]) for row in rows
    }
    right = sum(1 for pair in found if len({person_of[p] for p in pair}) == 1)
    assert right / len(found) >= 0.98  # precision
    assert right / 150 >= 0.95  # recall


def test_the_command_computes_with_a_progress_display(
    client: TestClient,
    crm: Headers,
    agent: Headers,
    database_url: str,
    settings: Settings,
) -> None:
    send(client, crm, ANNA, ANA, *OTHERS)
    env = {"OMNIKANAL_DATABASE_URL": database_url, "OMNIKANAL_DATA_DIR": str(settings.data_dir)}
    result = CliRunner().invoke(cli, ["duplicates", "compute"], env=env)
    assert result.exit_code == 0, result.output
    assert "reading profiles" in result.output
    assert "6 people compared: 1 likely pairs, 1 new suggestions" in result.output
    [pair] = suggestions(client, agent)
    assert pair["agreed"]["street"] == "exact"
