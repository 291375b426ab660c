"""Audiences over traits and behaviour, and campaigns to them: consent, caps, the log."""

from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI

from omnikanal.auth.models import Role
from omnikanal.marketing.campaigns import quiet_until
from tests.factories import bearer, create_secret_key
from tests.integration.commerce.conftest import COAT, LATTE, Shop
from tests.integration.marketing.conftest import MailSink, run_later


def person(shop: Shop, anonymous_id: str, **traits: Any) -> str:
    shop.ok(
        shop.client.post(
            "/v1/identify",
            json={"anonymousId": anonymous_id, "traits": traits},
            headers=shop.web_events,
        )
    )
    found = shop.ok(
        shop.client.get("/v1/profiles", params={"anonymous_id": anonymous_id}, headers=shop.agent)
    )
    profile_id: str = found["items"][0]["id"]
    return profile_id


@pytest.fixture
def marketer(shop: Shop) -> dict[str, str]:
    return bearer(create_secret_key(shop.factory, role=Role.MARKETER))


@pytest.fixture
def people(shop: Shop) -> dict[str, str]:
    anna = person(
        shop, "a-1", email="anna@example.com", city="Göteborg", marketing_email_opt_in=True
    )
    bo = person(shop, "b-1", email="bo@example.com", city="Stockholm")
    # Anna buys a latte at the till; Bo looks at the coat three times and never buys it.
    shop.ok(
        shop.client.post(
            "/v1/orders",
            json={
                "currency": "SEK",
                "lines": [{"sku": LATTE, "quantity": 1}],
                "tenders": [{"type": "cash"}],
                "customer": {"email": "anna@example.com"},
            },
            headers=shop.gbg,
        ),
        201,
    )
    for _ in range(3):
        shop.ok(
            shop.client.post(
                "/v1/track",
                json={"anonymousId": "b-1", "event": "Product Viewed", "properties": {"sku": COAT}},
                headers=shop.web_events,
            )
        )
    return {"anna": anna, "bo": bo}


def audience(shop: Shop, marketer: dict[str, str], rule: dict[str, Any]) -> Any:
    return shop.ok(
        shop.client.post("/v1/audiences", json={"name": "test", "rule": rule}, headers=marketer),
        201,
    )


def members(shop: Shop, marketer: dict[str, str], rule: dict[str, Any]) -> list[str]:
    made = audience(shop, marketer, rule)
    count = shop.ok(shop.client.get(f"/v1/audiences/{made['id']}/count", headers=marketer))
    found: list[str] = shop.ok(
        shop.client.get(f"/v1/audiences/{made['id']}/members", headers=marketer)
    )["profile_ids"]
    assert count["count"] == len(found)
    return found


def test_audiences_over_traits_and_behaviour(
    shop: Shop, marketer: dict[str, str], people: dict[str, str]
) -> None:
    anna, bo = people["anna"], people["bo"]
    assert members(shop, marketer, {"trait": "city", "equals": "Göteborg"}) == [anna]
    assert sorted(members(shop, marketer, {"trait": "city", "in": ["Göteborg", "Stockholm"]})) == (
        sorted([anna, bo])
    )
    assert members(
        shop, marketer, {"all": [{"bought_on": "pos"}, {"never_bought_on": ["web", "app"]}]}
    ) == [anna]
    assert members(shop, marketer, {"viewed": COAT, "at_least": 3, "without_buying": True}) == [bo]
    assert members(shop, marketer, {"viewed": COAT, "at_least": 4}) == []
    assert sorted(
        members(
            shop,
            marketer,
            {"any": [{"bought_on": "pos"}, {"trait": "city", "equals": "Stockholm"}]},
        )
    ) == sorted([anna, bo])


def test_an_unknown_rule_field_is_422_naming_it(shop: Shop, marketer: dict[str, str]) -> None:
    response = shop.client.post(
        "/v1/audiences",
        json={"name": "x", "rule": {"all": [{"trait": "city", "equals": "x"}, {"colour": "red"}]}},
        headers=marketer,
    )
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "unknown_rule_field"
    assert problem["errors"][0]["field"] == "rule.all[1].colour"
    assert "colour" in problem["detail"]
    response = shop.client.post(
        "/v1/audiences",
        json={"name": "x", "rule": {"trait": "city", "equals": "x", "since": "2026"}},
        headers=marketer,
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "rule.since"


def nested(levels: int) -> dict[str, Any]:
    rule: dict[str, Any] = {"trait": "city", "equals": "Göteborg"}
    for _ in range(levels - 1):
        rule = {"any": [rule]}
    return rule


def test_rules_nest_at_most_eight_groups_deep(shop: Shop, marketer: dict[str, str]) -> None:
    made = shop.client.post(
        "/v1/audiences", json={"name": "deep", "rule": nested(8)}, headers=marketer
    )
    assert made.status_code == 201, made.text
    response = shop.client.post(
        "/v1/audiences", json={"name": "too deep", "rule": nested(9)}, headers=marketer
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "rule" + ".any[0]" * 7 + ".any"
    # Past the edge's JSON depth limit (32) the request never reaches the schema.
    response = shop.client.post(
        "/v1/audiences", json={"name": "too deep", "rule": nested(127)}, headers=marketer
    )
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "limit_exceeded"


def test_a_campaign_past_its_columns_is_422_naming_the_field(
    shop: Shop, marketer: dict[str, str]
) -> None:
    everyone = {"name": "all", "rule": nested(1)}
    audience = shop.ok(shop.client.post("/v1/audiences", json=everyone, headers=marketer), 201)
    campaign = {"audience_id": audience["id"], "channels": ["email"], "body": "Hello"}
    for change, field in (
        ({"name": "n" * 201, "subject": "s"}, "body.name"),
        ({"name": "n", "subject": "s" * 301}, "body.subject"),
        ({"name": "n", "subject": "s", "channels": ["email"] * 4}, "body.channels"),
    ):
        response = shop.client.post("/v1/campaigns", json={**campaign, **change}, headers=marketer)
        assert response.status_code == 422, response.text
        assert [e["field"] for e in response.json()["errors"]] == [field]


def test_a_campaign_reaches_those_who_opted_in_and_respects_the_cap(
    shop: Shop, app: FastAPI, mail: MailSink, marketer: dict[str, str], people: dict[str, str]
) -> None:
    made = audience(shop, marketer, {"trait": "city", "exists": True})

    def campaign(subject: str) -> Any:
        created = shop.ok(
            shop.client.post(
                "/v1/campaigns",
                json={
                    "name": subject,
                    "audience_id": made["id"],
                    "channels": ["email"],
                    "subject": subject,
                    "body": "Wool coats are in.",
                },
                headers=marketer,
            ),
            201,
        )
        shop.ok(shop.client.post(f"/v1/campaigns/{created['id']}/send", headers=marketer), 202)
        run_later(app)
        return shop.ok(shop.client.get(f"/v1/campaigns/{created['id']}", headers=marketer))

    first = campaign("Autumn coats")
    assert first["status"] == "sent"
    assert first["messages"] == {"sent": 1, "suppressed": 1, "converted": 0}
    assert [m["To"] for m in mail.received] == ["anna@example.com"]
    assert "Unsubscribe" in mail.received[0].get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    bo_log = shop.ok(
        shop.client.get(
            "/v1/marketing/messages", params={"profile_id": people["bo"]}, headers=marketer
        )
    )["items"]
    assert [(m["status"], m["last_error"]) for m in bo_log] == [
        ("suppressed", "no marketing email consent")
    ]
    # Sending again records nothing new.
    again = shop.client.post(f"/v1/campaigns/{first['id']}/send", headers=marketer)
    assert again.status_code == 409

    app.state.settings.marketing_daily_cap = 1
    second = campaign("Scarves too")
    assert second["messages"] == {"suppressed": 2, "converted": 0}
    anna_log = shop.ok(
        shop.client.get(
            "/v1/marketing/messages",
            params={"profile_id": people["anna"], "status": "suppressed"},
            headers=marketer,
        )
    )["items"]
    assert anna_log[0]["last_error"].startswith("frequency cap")
    assert len(mail.received) == 1


def test_quiet_hours() -> None:
    evening = datetime(2026, 11, 23, 21, 30, tzinfo=UTC)  # 22:30 in Stockholm
    assert quiet_until("21-08", "Europe/Stockholm", evening) == datetime(
        2026, 11, 24, 7, 0, tzinfo=UTC
    )
    noon = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)
    assert quiet_until("21-08", "Europe/Stockholm", noon) is None
    assert quiet_until("", "Europe/Stockholm", evening) is None
