"""Recommendations through the API on both databases: a small till and web history made
by hand, a model trained on it, and what each person is (and is not) offered."""

import time
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy.orm import Session, sessionmaker

from omnikanal.catalog import service as catalog_service
from omnikanal.inventory import service as inventory_service
from omnikanal.kit.personal_data import Person
from omnikanal.recommendations import privacy as recommendations_privacy
from omnikanal.recommendations import service
from omnikanal.recommendations.models import ModelStatus, PersonList, RecommendationModel
from omnikanal.recommendations.training import Params
from omnikanal.uow import unit_of_work
from omnikanal.wiring import build_privacy_registry, build_registry
from tests.integration.commerce.conftest import (  # noqa: F401
    COAT,
    GBG,
    LATTE,
    SCARF,
    STHLM,
    WAREHOUSE,
    Shop,
    shop,
)

HAT, GLOVES = "HAT-WOOL-GREY", "GLOVES-LEATHER-BROWN"
# Small and steady for a handful of people.
PARAMS = Params(factors=8, iterations=20, regularization=0.1, threads=1)


def _till(shop: Shop, user: str, *skus: str, store: str = "gbg") -> str:  # noqa: F811
    body: dict[str, Any] = {
        "currency": "SEK",
        "lines": [{"sku": sku, "quantity": 1} for sku in skus],
        "tenders": [{"type": "cash"}],
        "customer": {"user_id": user},
    }
    headers = shop.gbg if store == "gbg" else shop.sthlm
    order = shop.ok(shop.client.post("/v1/orders", json=body, headers=headers), 201)
    return str(order["profile_id"])


def _consent(shop: Shop, profile_id: str, granted: bool = True) -> None:  # noqa: F811
    change = {"consents": [{"purpose": "personalisation", "channel": "email", "granted": granted}]}
    shop.ok(shop.client.put(f"/v1/profiles/{profile_id}/consents", json=change, headers=shop.agent))


def _train(factory: sessionmaker[Session]) -> RecommendationModel:
    with unit_of_work(factory) as session:
        model = service.train(session, params=PARAMS)
        assert model is not None
        session.expunge(model)
    return model


def _stocked(
    session: Session,
    sku: str,
    name: str,
    *,
    family: str,
    category: str,
    price: int,
    at: dict[str, int] | None = None,
) -> None:
    """A product priced in SEK and received at ``at`` (40 in Göteborg, 10 in the warehouse)."""
    fields = {"family": family, "name": name, "category": category, "attributes": {},
              "image_urls": [], "vat_rate_bp": 2500}  # fmt: skip
    catalog_service.upsert_product(session, sku=sku, fields=fields)
    since = datetime(2026, 1, 1, tzinfo=UTC)
    catalog_service.set_price(session, sku=sku, currency="SEK", amount=price, valid_from=since)
    for location, units in (at or {GBG: 40, WAREHOUSE: 10}).items():
        inventory_service.adjust(
            session, location=location, sku=sku, quantity=units, reason="receipt"
        )


@pytest.fixture
def people(shop: Shop) -> dict[str, str]:  # noqa: F811
    """Eight coat people bought a coat, a scarf and gloves in Göteborg; four coffee people
    bought lattes in Stockholm. Ann bought a coat (and looked at the scarf online): the
    gloves and the scarf are what the model offers her."""
    with unit_of_work(shop.factory) as session:
        for sku, name in ((HAT, "Wool hat, grey"), (GLOVES, "Leather gloves, brown")):
            _stocked(session, sku, name, family=sku[:6], category="accessories", price=39_900)
        inventory_service.adjust(session, location=GBG, sku=SCARF, quantity=30, reason="receipt")
        inventory_service.adjust(session, location=GBG, sku=COAT, quantity=30, reason="receipt")
    found: dict[str, str] = {}
    for n in range(8):
        found[f"coat-{n}"] = _till(shop, f"coat-{n}", COAT, SCARF, GLOVES)
    for n in range(4):
        found[f"coffee-{n}"] = _till(shop, f"coffee-{n}", LATTE, store="sthlm")
    found["ann"] = _till(shop, "ann", COAT)
    view = {
        "type": "track",
        "event": "Product Viewed",
        "messageId": "ann-scarf",
        "userId": "ann",
        "properties": {"sku": SCARF},
    }
    shop.ok(shop.client.post("/v1/track", json=view, headers=shop.web_events))
    found["bo"] = _till(shop, "bo", LATTE, store="sthlm")
    for name in ("ann", "coat-0", "coffee-0"):
        _consent(shop, found[name])
    return found


def _recommended(shop: Shop, profile_id: str, **params: Any) -> Any:  # noqa: F811
    return shop.ok(
        shop.client.get(
            f"/v1/profiles/{profile_id}/recommendations", params=params, headers=shop.web
        )
    )


def test_a_person_gets_what_goes_with_their_history_with_its_reason(
    shop: Shop,  # noqa: F811
    people: dict[str, str],
) -> None:
    model = _train(shop.factory)
    found = _recommended(shop, people["ann"])
    assert found["model_version"] == model.version
    assert found["personalised"] is True
    # Her favourite store decides the stock: the coat she bought is not offered again.
    assert found["stock_location"] == GBG
    skus = [item["sku"] for item in found["items"]]
    assert set(skus[:2]) == {SCARF, GLOVES}
    assert COAT not in skus
    gloves = next(item for item in found["items"] if item["sku"] == GLOVES)
    assert gloves["reason"] in ("bought_with", "viewed_with")
    assert gloves["reason_text"].startswith("Goes with ")
    assert gloves["name"] == "Leather gloves, brown"
    # Best sellers fill in after her own list, with their reason too.
    assert found["items"][-1]["reason"] in ("popular_at_store", "popular", "bought_with")


def test_out_of_stock_at_the_store_that_matters_is_left_out(
    shop: Shop,  # noqa: F811
    people: dict[str, str],
) -> None:
    _train(shop.factory)
    with unit_of_work(shop.factory) as session:
        left = inventory_service.available_units(session, skus=[GLOVES], location=GBG)[GLOVES]
        inventory_service.adjust(session, location=GBG, sku=GLOVES, quantity=-left, reason="damage")
    at_home = [i["sku"] for i in _recommended(shop, people["ann"])["items"]]
    assert GLOVES not in at_home
    assert SCARF in at_home
    # Asked by Stockholm, whose stock has neither the scarf nor the gloves: the coat
    # people's items are left out there, and the best sellers say where.
    found = _recommended(shop, people["ann"], location=STHLM, context="store")
    assert found["stock_location"] == STHLM
    assert {i["sku"] for i in found["items"]} <= {LATTE, COAT, HAT}
    assert COAT not in {i["sku"] for i in found["items"]}
    latte = next(i for i in found["items"] if i["sku"] == LATTE)
    assert latte["reason"] == "popular_at_store"
    assert latte["reason_text"] == "Popular at Stockholm Drottninggatan"


def test_without_consent_only_best_sellers_and_nothing_personal(
    shop: Shop,  # noqa: F811
    people: dict[str, str],
) -> None:
    _train(shop.factory)
    found = _recommended(shop, people["coat-1"])
    assert found["personalised"] is False
    assert found["stock_location"] is None
    assert {i["reason"] for i in found["items"]} == {"popular"}
    # Withdrawn consent counts at once.
    _consent(shop, people["ann"], granted=False)
    withdrawn = _recommended(shop, people["ann"])
    assert withdrawn["personalised"] is False
    assert {i["reason"] for i in withdrawn["items"]} == {"popular"}


def test_what_was_bought_after_training_is_left_out_too(
    shop: Shop,  # noqa: F811
    people: dict[str, str],
) -> None:
    _train(shop.factory)
    _till(shop, "ann", GLOVES)
    skus = [i["sku"] for i in _recommended(shop, people["ann"])["items"]]
    assert GLOVES not in skus
    assert SCARF in skus


def test_cold_start_gets_the_best_sellers_and_a_cart_what_goes_with_it(
    shop: Shop,  # noqa: F811
    people: dict[str, str],
) -> None:
    _train(shop.factory)
    cart = shop.ok(
        shop.client.post(
            "/v1/carts",
            json={"currency": "SEK", "user_id": "cleo"},
            headers=shop.web,
        ),
        201,
    )
    cleo = str(cart["profile_id"])
    _consent(shop, cleo)
    cold = _recommended(shop, cleo)
    assert cold["personalised"] is True
    assert cold["items"]
    assert {i["reason"] for i in cold["items"]} == {"popular"}
    shop.ok(
        shop.client.post(
            f"/v1/carts/{cart['id']}/items", json={"sku": COAT, "quantity": 1}, headers=shop.web
        ),
        200,
    )
    in_cart = _recommended(shop, cleo, context="cart")
    skus = [i["sku"] for i in in_cart["items"]]
    assert COAT not in skus
    assert in_cart["items"][0]["reason"] == "goes_with_cart"
    assert in_cart["items"][0]["reason_sku"] == COAT
    assert in_cart["items"][0]["sku"] in (SCARF, GLOVES)


def test_related_products_and_unknown_names(
    shop: Shop,  # noqa: F811
    people: dict[str, str],
) -> None:
    before = shop.ok(shop.client.get(f"/v1/products/{COAT}/related", headers=shop.web))
    assert before == {"sku": COAT, "model_version": None, "items": []}
    _train(shop.factory)
    found = shop.ok(shop.client.get(f"/v1/products/{COAT}/related", headers=shop.web))
    assert {i["sku"] for i in found["items"][:2]} == {SCARF, GLOVES}
    assert found["items"][0]["reason"] == "goes_with"
    assert found["items"][0]["reason_text"] == "Often chosen with Wool coat, grey"
    missing = shop.client.get("/v1/products/NOPE/related", headers=shop.web)
    assert missing.status_code == 404
    nobody = shop.client.get(
        "/v1/profiles/00000000-0000-7000-8000-000000000000/recommendations", headers=shop.web
    )
    assert nobody.status_code == 404
    unknown_store = shop.client.get(
        f"/v1/profiles/{people['ann']}/recommendations",
        params={"location": "nowhere"},
        headers=shop.web,
    )
    assert unknown_store.status_code == 404
    analyst = shop.client.get(f"/v1/products/{COAT}/related", headers=shop.analyst)
    assert analyst.status_code == 403


def test_no_other_size_of_what_was_bought_or_is_shown(
    shop: Shop,  # noqa: F811
    people: dict[str, str],
) -> None:
    """Six more people bought the coat in size 40 with the scarf and gloves: the 40 goes
    with everything the 38 goes with, yet Ann, who bought the 38, is not offered it, nor
    is it what goes with the 38. What goes with the scarf still lists it."""
    coat_40 = "COAT-WOOL-GREY-40"
    with unit_of_work(shop.factory) as session:
        _stocked(
            session, coat_40, "Wool coat, grey, 40", family="COAT-WOOL", category="coats",
            price=249_900, at={GBG: 30},
        )  # fmt: skip
    for n in range(6):
        _till(shop, f"coat-40-{n}", coat_40, SCARF, GLOVES)
    _train(shop.factory)
    offered = [i["sku"] for i in _recommended(shop, people["ann"], limit=50)["items"]]
    assert SCARF in offered
    assert COAT not in offered
    assert coat_40 not in offered
    with_38 = shop.ok(shop.client.get(f"/v1/products/{COAT}/related", headers=shop.web))
    assert {SCARF, GLOVES} <= {i["sku"] for i in with_38["items"]}
    assert coat_40 not in {i["sku"] for i in with_38["items"]}
    with_scarf = shop.ok(shop.client.get(f"/v1/products/{SCARF}/related", headers=shop.web))
    assert coat_40 in {i["sku"] for i in with_scarf["items"]}


def test_a_model_swap_while_serving(
    shop: Shop,  # noqa: F811
    people: dict[str, str],
) -> None:
    first = _train(shop.factory)
    # A request that read the served model just before the swap still finds its lists.
    read_factory = shop.client.app.state.read_session_factory  # type: ignore[attr-defined]
    with read_factory() as reader:
        served = service.served_model(reader)
        assert served is not None
        assert served.version == first.version
        second = _train(shop.factory)
        found = reader.query(PersonList).filter(PersonList.model_id == served.id).count()
        assert found == served.people == len(people)
    assert second.version == first.version + 1
    assert _recommended(shop, people["ann"])["model_version"] == second.version
    third = _train(shop.factory)
    with shop.factory() as session:
        kept = {m.version: m.status for m in service.models(session)}
    assert kept == {third.version: ModelStatus.ACTIVE, second.version: ModelStatus.RETIRED}
    listed = shop.ok(shop.client.get("/v1/recommendations/models", headers=shop.analyst))
    assert [m["version"] for m in listed] == [third.version, second.version]


def test_privacy_export_and_erasure_of_a_persons_lists(
    shop: Shop,  # noqa: F811
    people: dict[str, str],
) -> None:
    _train(shop.factory)
    ann = Person(profile_ids=frozenset({UUID(people["ann"])}))
    with shop.factory() as session:
        exported = recommendations_privacy.export(session, ann)
    rows = exported["recommendations"]
    assert len(rows) == 1
    assert {s["sku"] for s in rows[0]["suggestions"][:2]} == {SCARF, GLOVES}
    assert rows[0]["left_out_as_bought"] == [COAT]
    with unit_of_work(shop.factory) as session:
        assert recommendations_privacy.erase(session, ann) == 1
    with shop.factory() as session:
        assert recommendations_privacy.export(session, ann) == {"recommendations": []}
    part = build_privacy_registry().part("recommendations")
    assert part is not None
    assert "recommendation_person" in part.tables


def test_the_worker_trains_when_the_model_is_due() -> None:
    jobs = build_registry().periodic_jobs()
    assert "recommendations.train" in jobs


def test_a_checkout_can_write_while_a_model_learns(
    shop: Shop,  # noqa: F811
    people: dict[str, str],
) -> None:
    """Training reads the history and learns outside its write transaction: on SQLite,
    whose one write lock a writer holds from its first statement, a till sale made while
    the model learns goes through at once instead of waiting for the fit."""
    sold: list[str] = []

    def told(step: str, done: int, total: int) -> None:
        if step == "history" and done == 1 and not sold:
            started = time.monotonic()
            sold.append(_till(shop, "while-learning", HAT))
            assert time.monotonic() - started < 5

    with unit_of_work(shop.factory) as session:
        model = service.train(session, params=PARAMS, progress=told)
        assert model is not None
    assert sold, "the progress of reading the history was told"
    with shop.factory() as session:
        assert service.served_model(session) is not None
