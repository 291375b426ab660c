"""Journey analytics through the API on both databases: a small history made by hand
(web views, till sales, a merge), the numbers it must give, and who may ask."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from omnikanal.auth.models import Role
from tests.factories import bearer, create_secret_key
from tests.integration.commerce.conftest import LATTE, SCARF, Shop, shop  # noqa: F401


def _at(days: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).isoformat()


def _view(message_id: str, sku: str, days: float, **who: str) -> dict[str, Any]:
    return {
        "type": "track",
        "event": "Product Viewed",
        "messageId": message_id,
        "timestamp": _at(days),
        "properties": {"sku": sku},
        **who,
    }


def _till(shop: Shop, sku: str, user: str | None) -> None:  # noqa: F811
    body: dict[str, Any] = {
        "currency": "SEK",
        "lines": [{"sku": sku, "quantity": 1}],
        "tenders": [{"type": "cash"}],
    }
    if user:
        body["customer"] = {"user_id": user}
    shop.ok(shop.client.post("/v1/orders", json=body, headers=shop.gbg), 201)


@pytest.fixture
def history(shop: Shop) -> Shop:  # noqa: F811
    """u1 viewed the scarf online 2 days before buying it at the till, u2 20 days before,
    u3 bought a latte without looking; anon-5 viewed the scarf 3 days before u5 bought it,
    and then anon-5 signed in as u5 (one person)."""
    batch = [
        _view("v1", SCARF, 2, userId="u1"),
        _view("v2", SCARF, 20, userId="u2"),
        _view("v5", SCARF, 3, anonymousId="anon-5"),
    ]
    shop.ok(shop.client.post("/v1/batch", json={"batch": batch}, headers=shop.web_events))
    for sku, user in ((SCARF, "u1"), (SCARF, "u2"), (LATTE, "u3"), (SCARF, "u5")):
        _till(shop, sku, user)
    signed_in = {
        "type": "track",
        "event": "Signed In",
        "messageId": "s5",
        "anonymousId": "anon-5",
        "userId": "u5",
        "timestamp": _at(0),
    }
    shop.ok(shop.client.post("/v1/track", json=signed_in, headers=shop.web_events))
    return shop


FUNNEL = {
    "steps": [
        {"event": "Product Viewed", "channels": ["web"], "where": {"sku": SCARF}},
        {"kind": "order", "channels": ["pos"], "within": 7 * 86400},
    ]
}


def test_a_web_to_till_funnel_counts_merged_people_once_and_keeps_its_window(
    history: Shop,
) -> None:
    found = history.ok(
        history.client.post("/v1/analytics/funnels", json=FUNNEL, headers=history.analyst)
    )
    assert [(s["entered"], s["reached"]) for s in found["steps"]] == [(3, 3), (3, 2)]
    assert found["steps"][1]["interval"]["low"] < 2 / 3 < found["steps"][1]["interval"]["high"]
    assert found["largest_drop"] == 2
    assert len(found["stalled"]) == 1
    same = history.ok(
        history.client.post(
            "/v1/analytics/funnels", json={**FUNNEL, "mode": "same"}, headers=history.analyst
        )
    )
    assert same["steps"][1]["reached"] == 0
    switch = history.ok(
        history.client.post(
            "/v1/analytics/funnels", json={**FUNNEL, "mode": "switch"}, headers=history.analyst
        )
    )
    assert switch["steps"][1]["reached"] == 2
    assert {b["key"]: b["completed"] for b in switch["by_path"]} == {"web > pos": 2, "web": 0}


def test_webrooming_within_7_14_and_30_days(history: Shop) -> None:
    found = history.ok(history.client.get("/v1/analytics/webrooming", headers=history.analyst))
    overall = found["overall"]
    assert overall["total"] == 4
    assert [r["count"] for r in overall["rates"]] == [2, 2, 3]
    by_sku = {row["key"]: row for row in found["by"]["sku"]}
    assert [r["count"] for r in by_sku[SCARF]["rates"]] == [2, 2, 3]
    assert [r["count"] for r in by_sku[LATTE]["rates"]] == [0, 0, 0]


def test_paths_spend_cohorts_and_value_answer(history: Shop) -> None:
    paths = history.ok(history.client.get("/v1/analytics/paths", headers=history.analyst))
    by_path = {p["path"]: p for p in paths["paths"]}
    assert by_path["web > store gbg-avenyn"]["converted"] == 3
    assert by_path["store gbg-avenyn"]["converted"] == 1
    spend = history.ok(history.client.get("/v1/analytics/spend", headers=history.analyst))
    assert {s["measure"] for s in spend} == {"store_visit", "online_order", "customer"}
    cohorts = history.ok(history.client.get("/v1/analytics/cohorts", headers=history.analyst))
    assert [(c["first_channel"], c["size"]) for c in cohorts] == [("pos", 4)]
    value = history.ok(history.client.get("/v1/analytics/clv", headers=history.analyst))
    assert value["people"] == 4
    assert value["bgnbd"] is None


def test_only_analysts_and_admins_may_ask(
    shop: Shop,  # noqa: F811
    session_factory: sessionmaker[Session],
) -> None:
    marketer = bearer(create_secret_key(session_factory, role=Role.MARKETER))
    assert shop.client.get("/v1/analytics/paths", headers=marketer).status_code == 403
    assert shop.client.get("/v1/analytics/paths").status_code == 401
    assert shop.client.get("/v1/analytics/paths", headers=shop.admin).status_code == 200
    empty = shop.ok(shop.client.get("/v1/analytics/webrooming", headers=shop.analyst))
    assert empty["overall"]["total"] == 0


def test_a_bad_funnel_is_a_422_naming_the_field(shop: Shop) -> None:  # noqa: F811
    bad = {"steps": [{"event": "Product Viewed"}, {"kind": "order", "within": -1}]}
    response = shop.client.post("/v1/analytics/funnels", json=bad, headers=shop.analyst)
    assert response.status_code == 422
    assert "within" in response.text
    none = shop.client.post("/v1/analytics/funnels", json={"steps": []}, headers=shop.analyst)
    assert none.status_code == 422
    assert "steps" in none.text


def test_a_lookup_by_store_staff_is_an_in_store_touch_before_an_online_order(
    shop: Shop,  # noqa: F811
) -> None:
    seen = {"type": "identify", "userId": "u8", "messageId": "i8", "timestamp": _at(1)}
    shop.ok(shop.client.post("/v1/identify", json=seen, headers=shop.web_events))
    found = shop.ok(shop.client.get("/v1/profiles", params={"user_id": "u8"}, headers=shop.agent))
    person = found["items"][0]["id"]
    # Göteborg's staff look her up (she is in the store), then she orders online.
    shop.ok(shop.client.get(f"/v1/profiles/{person}", headers=shop.gbg))
    order = {
        "currency": "SEK",
        "lines": [{"sku": SCARF, "quantity": 1}],
        "tenders": [{"type": "card", "reference": "tok"}],
        "fulfilment": {"type": "click_and_collect", "location": "gbg-avenyn"},
        "customer": {"user_id": "u8"},
    }
    shop.ok(shop.client.post("/v1/orders", json=order, headers=shop.web), 201)
    report = shop.ok(shop.client.get("/v1/analytics/showrooming", headers=shop.analyst))
    assert report["overall"]["total"] == 1
    assert [r["count"] for r in report["overall"]["rates"]] == [1, 1, 1]
    assert [row["key"] for row in report["by"]["store"]] == ["gbg-avenyn"]
