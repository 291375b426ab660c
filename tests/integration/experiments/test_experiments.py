"""Experiments through the API on both databases: life, sticky assignment across
channels, devices and merges, store experiments, results from every channel's orders,
and who may do what."""

from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import func, select

from omnikanal.auth.models import Role
from omnikanal.customers import service as customers_service
from omnikanal.experiments import privacy, service
from omnikanal.experiments.models import Exposure
from tests.factories import bearer, create_secret_key
from tests.integration.commerce.conftest import GBG, LATTE, Shop, shop  # noqa: F401
from tests.integration.privacy.test_export import unzip

Headers = dict[str, str]


def _marketer(shop: Shop) -> Headers:  # noqa: F811
    return bearer(create_secret_key(shop.factory, role=Role.MARKETER))


def _experiment(shop: Shop, marketer: Headers, **overrides: Any) -> dict[str, Any]:  # noqa: F811
    body: dict[str, Any] = {
        "key": "reminder-offer",
        "name": "Free delivery against 10 % off",
        "variants": [{"key": "ten-off", "weight": 1}, {"key": "free-delivery", "weight": 1}],
        "metric": "conversion",
        "guardrails": ["return_rate", "aov"],
        "window_days": 7,
        **overrides,
    }
    created = shop.ok(shop.client.post("/v1/experiments", json=body, headers=marketer), 201)
    started = shop.ok(shop.client.post(f"/v1/experiments/{body['key']}/start", headers=marketer))
    assert started["status"] == "running"
    return dict(created)


def _till(shop: Shop, user: str, sku: str = LATTE, headers: Headers | None = None) -> None:  # noqa: F811
    body = {
        "currency": "SEK",
        "lines": [{"sku": sku, "quantity": 1}],
        "tenders": [{"type": "cash"}],
        "customer": {"user_id": user},
    }
    shop.ok(shop.client.post("/v1/orders", json=body, headers=headers or shop.gbg), 201)


def _assign(shop: Shop, headers: Headers, key: str = "reminder-offer", **who: str) -> Any:  # noqa: F811
    return shop.ok(
        shop.client.get(f"/v1/experiments/{key}/assignment", params=who, headers=headers)
    )


def _exposures(shop: Shop) -> int:  # noqa: F811
    with shop.factory() as session:
        return int(session.scalar(select(func.count()).select_from(Exposure)) or 0)


def test_a_person_keeps_the_variant_on_web_app_and_till(shop: Shop) -> None:  # noqa: F811
    marketer = _marketer(shop)
    _experiment(shop, marketer)
    _till(shop, "u1")
    first = _assign(shop, shop.web, user_id="u1")
    assert first["in_experiment"]
    assert first["first_exposure"]
    assert first["variant"] in {"ten-off", "free-delivery"}
    profile = first["unit"]
    for headers, who in (
        (shop.app, {"user_id": "u1"}),
        (shop.gbg, {"user_id": "u1"}),
        (shop.web, {"profile_id": profile}),
    ):
        again = _assign(shop, headers, **who)
        assert (again["variant"], again["first_exposure"]) == (first["variant"], False)
    assert _exposures(shop) == 1
    # The hash decides, so another experiment splits people independently of this one.
    with shop.factory() as session:
        experiment = service.get(session, key="reminder-offer")
        expected = service.choose(experiment.variants, service.bucket("reminder-offer", profile))
    assert expected == first["variant"]


def test_a_device_keeps_its_variant_when_it_signs_in(shop: Shop) -> None:  # noqa: F811
    marketer = _marketer(shop)
    _experiment(shop, marketer)
    device = _assign(shop, shop.web, anonymous_id="device-77")
    assert device["unit"] == "anonymous_id:device-77"
    assert device["first_exposure"]
    signed_in = {
        "type": "track",
        "event": "Signed In",
        "messageId": "m-77",
        "anonymousId": "device-77",
        "userId": "u77",
    }
    shop.ok(shop.client.post("/v1/track", json=signed_in, headers=shop.web_events))
    for headers, who in ((shop.app, {"user_id": "u77"}), (shop.web, {"anonymous_id": "device-77"})):
        found = _assign(shop, headers, **who)
        assert found["variant"] == device["variant"]
        assert found["unit"] != "anonymous_id:device-77"


def test_after_a_merge_the_surviving_profile_keeps_its_variant(shop: Shop) -> None:  # noqa: F811
    marketer = _marketer(shop)
    # Many variants, so two people very likely differ; both are shown one before they merge.
    _experiment(
        shop,
        marketer,
        variants=[{"key": f"v{i}", "weight": 1} for i in range(10)],
    )
    first = {"type": "identify", "messageId": "i1", "userId": "u-merge"}
    second = {
        "type": "identify",
        "messageId": "i2",
        "anonymousId": "tablet-9",
        "traits": {"email": "m@example.com"},
    }
    for body in (first, second):
        shop.ok(shop.client.post("/v1/identify", json=body, headers=shop.web_events))
    a = _assign(shop, shop.web, user_id="u-merge")
    b = _assign(shop, shop.app, anonymous_id="tablet-9")
    assert a["unit"] != b["unit"]
    join = {
        "type": "identify",
        "messageId": "i3",
        "userId": "u-merge",
        "traits": {"email": "m@example.com"},
    }
    shop.ok(shop.client.post("/v1/identify", json=join, headers=shop.web_events))
    after = _assign(shop, shop.web, user_id="u-merge")
    survivor = after["unit"]
    assert survivor in {a["unit"], b["unit"]}
    own = a if survivor == a["unit"] else b
    assert after["variant"] == own["variant"]
    for headers, who in (
        (shop.app, {"anonymous_id": "tablet-9"}),
        (shop.gbg, {"user_id": "u-merge"}),
    ):
        assert _assign(shop, headers, **who)["variant"] == own["variant"]


def test_outside_the_experiment_the_answer_is_control_and_nothing_is_recorded(
    shop: Shop,  # noqa: F811
) -> None:
    marketer = _marketer(shop)
    body = {
        "key": "draft-one",
        "name": "Not yet",
        "variants": [{"key": "a"}, {"key": "b"}],
    }
    shop.ok(shop.client.post("/v1/experiments", json=body, headers=marketer), 201)
    found = _assign(shop, shop.web, key="draft-one", anonymous_id="d1")
    assert (found["variant"], found["in_experiment"]) == ("a", False)
    assert _exposures(shop) == 0
    listed = shop.ok(
        shop.client.post(
            "/v1/audiences",
            json={"name": "VIP", "rule": {"trait": "vip", "equals": True}},
            headers=marketer,
        ),
        201,
    )
    _experiment(shop, marketer, key="vip-only", audience_id=listed["id"])
    _till(shop, "u-plain")
    outside = _assign(shop, shop.web, key="vip-only", user_id="u-plain")
    assert outside["in_experiment"] is False
    assert outside["reason"] == "not in the experiment's audience"
    assert _exposures(shop) == 0


def test_store_experiments_randomise_locations(shop: Shop) -> None:  # noqa: F811
    marketer = _marketer(shop)
    _experiment(
        shop, marketer, key="till-offer", unit="store", metric="revenue", guardrails=["aov"]
    )
    gbg = _assign(shop, shop.gbg, key="till-offer", location=GBG)
    assert gbg["unit"] == f"location:{GBG}"
    # A store's till asks without naming its store: the key's store is the one.
    assert _assign(shop, shop.gbg, key="till-offer")["variant"] == gbg["variant"]
    _assign(shop, shop.sthlm, key="till-offer")
    wrong = shop.client.get(
        "/v1/experiments/till-offer/assignment", params={"user_id": "u1"}, headers=shop.web
    )
    assert wrong.status_code == 422
    assert wrong.json()["code"] == "experiment_wrong_unit"
    unknown = shop.client.get(
        "/v1/experiments/till-offer/assignment", params={"location": "nowhere"}, headers=shop.web
    )
    assert unknown.status_code == 404
    _till(shop, "u-store", headers=shop.gbg)
    results = shop.ok(shop.client.get("/v1/experiments/till-offer/results", headers=shop.analyst))
    assert results["unit"] == "store"
    assert sum(v["units"] for v in results["primary"]["variants"]) == 2
    assert results["primary"]["effects"][0]["clustered"] is True


def test_results_count_orders_of_every_channel_after_exposure(shop: Shop) -> None:  # noqa: F811
    marketer = _marketer(shop)
    _experiment(shop, marketer)
    people = [f"r{i}" for i in range(12)]
    variants = {}
    for person in people:
        _till(shop, person)  # before exposure: the pre-period
        variants[person] = _assign(shop, shop.web, user_id=person)["variant"]
    buyers = people[:7]
    for person in buyers:
        _till(shop, person, headers=shop.sthlm if person.endswith("1") else shop.gbg)
    found = shop.ok(shop.client.get("/v1/experiments/reminder-offer/results", headers=shop.analyst))
    assert found["control"] == "ten-off"
    rows = {v["key"]: v for v in found["primary"]["variants"]}
    for key, row in rows.items():
        members = [p for p in people if variants[p] == key]
        assert row["units"] == len(members)
        converted = [p for p in members if p in buyers]
        if members:
            assert row["mean"] == pytest.approx(len(converted) / len(members))
    assert found["srm"]["observed"] == [rows["ten-off"]["units"], rows["free-delivery"]["units"]]
    assert isinstance(found["srm_warning"], bool)
    assert [g["metric"] for g in found["guardrails"]] == ["return_rate", "aov"]
    effect = found["primary"]["effects"][0]
    assert effect["variant"] == "free-delivery"
    assert {"absolute", "relative", "cuped", "sequential", "chance_to_beat_control"} <= set(effect)
    assert found["timeline"] == [] or found["timeline"][0]["day"] == 1


def test_life_and_listing(shop: Shop) -> None:  # noqa: F811
    marketer = _marketer(shop)
    _experiment(shop, marketer)
    again = shop.client.post("/v1/experiments/reminder-offer/start", headers=marketer)
    assert again.status_code == 409
    stopped = shop.ok(shop.client.post("/v1/experiments/reminder-offer/stop", headers=marketer))
    assert stopped["status"] == "stopped"
    assert stopped["stopped_at"]
    listed = shop.ok(shop.client.get("/v1/experiments", headers=shop.analyst))
    assert [e["key"] for e in listed["experiments"]] == ["reminder-offer"]
    assert shop.client.get("/v1/experiments/nope", headers=shop.analyst).status_code == 404
    duplicate = shop.client.post(
        "/v1/experiments",
        json={"key": "reminder-offer", "name": "x", "variants": [{"key": "a"}, {"key": "b"}]},
        headers=marketer,
    )
    assert duplicate.status_code == 409
    same_keys = shop.client.post(
        "/v1/experiments",
        json={"key": "k2", "name": "x", "variants": [{"key": "a"}, {"key": "a"}]},
        headers=marketer,
    )
    assert same_keys.status_code == 422


def test_who_may_do_what(shop: Shop) -> None:  # noqa: F811
    body = {"key": "k", "name": "x", "variants": [{"key": "a"}, {"key": "b"}]}
    assert shop.client.post("/v1/experiments", json=body, headers=shop.analyst).status_code == 403
    assert shop.client.post("/v1/experiments", json=body, headers=shop.web).status_code == 403
    assert shop.client.get("/v1/experiments", headers=shop.web).status_code == 403
    assert shop.client.post("/v1/experiments", json=body, headers=shop.admin).status_code == 201


def test_plan_answers_units_and_days(shop: Shop) -> None:  # noqa: F811
    found = shop.ok(
        shop.client.post(
            "/v1/experiments/plan",
            json={"baseline_rate": 0.05, "minimum_effect": 0.2, "daily_units": 1000},
            headers=shop.analyst,
        )
    )
    assert 7000 < found["per_variant"] < 9000
    assert found["days"] == -(-found["total"] // 1000)
    bad = shop.client.post(
        "/v1/experiments/plan", json={"minimum_effect": 0.1}, headers=shop.analyst
    )
    assert bad.status_code == 422
    tiny = shop.client.post(
        "/v1/experiments/plan",
        json={"baseline_rate": 0.000001, "minimum_effect": 0.0001},
        headers=shop.analyst,
    )
    assert tiny.status_code == 422
    assert tiny.json()["code"] == "experiment_unplannable"


def test_a_promotion_limited_to_a_variant_prices_only_its_people(shop: Shop) -> None:  # noqa: F811
    marketer = _marketer(shop)
    _experiment(shop, marketer)
    by_variant: dict[str, str] = {}
    for i in range(40):
        user = f"p{i}"
        _till(shop, user)
        shown = _assign(shop, shop.web, user_id=user)
        by_variant.setdefault(shown["variant"], user)
        if len(by_variant) == 2:
            break
    promotion = {
        "code": "TENOFF",
        "name": "10 % off, reminder test",
        "kind": "percent",
        "value": 1000,
        "skus": [LATTE],
        "starts_at": "2026-01-01T00:00:00Z",
        "ends_at": "2036-01-01T00:00:00Z",
        "experiment": "reminder-offer",
        "variant": "ten-off",
    }
    made = shop.ok(shop.client.post("/v1/promotions", json=promotion, headers=marketer), 201)
    assert (made["experiment"], made["variant"]) == ("reminder-offer", "ten-off")
    prices = {}
    for variant, user in by_variant.items():
        cart = shop.ok(
            shop.client.post(
                "/v1/carts",
                json={"currency": "SEK", "user_id": user, "items": [{"sku": LATTE}]},
                headers=shop.web,
            ),
            201,
        )
        (line,) = cart["lines"]
        prices[variant] = (line["unit_price"]["amount"], line.get("promotion_code"))
    assert prices["ten-off"][0] == 4_410
    assert prices["free-delivery"][0] == 4_900
    half = {**promotion, "code": "HALF"}
    del half["variant"]
    assert shop.client.post("/v1/promotions", json=half, headers=marketer).status_code == 422


def test_the_export_holds_the_exposures_and_erasure_removes_them(shop: Shop) -> None:  # noqa: F811
    _experiment(shop, _marketer(shop))
    device = _assign(shop, shop.web, anonymous_id="tablet-e")
    signed_in = {"type": "identify", "messageId": "e1", "anonymousId": "tablet-e", "userId": "u-e"}
    shop.ok(shop.client.post("/v1/identify", json=signed_in, headers=shop.web_events))
    person = _assign(shop, shop.app, user_id="u-e")
    assert person["variant"] == device["variant"]
    exported = shop.client.get(f"/v1/profiles/{person['unit']}/export", headers=shop.admin)
    files = unzip(exported.content)
    shown = files["experiments.json"]
    assert [(e["experiment"], e["variant"]) for e in shown] == [
        ("reminder-offer", device["variant"])
    ] * 2
    assert {e["anonymous_id"] for e in shown} == {"tablet-e", None}
    assert "experiments.json: " in files["README.txt"]
    with shop.factory() as session:
        found = customers_service.person(session, profile_id=UUID(person["unit"]))
        assert found is not None
        assert privacy.erase(session, found) == 2
        assert privacy.export(session, found) == {"experiments": []}
        session.rollback()
