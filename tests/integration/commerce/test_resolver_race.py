"""A till placing buyers itself while the resolver places the same people's messages: the
identity graph has one writer at a time, so nobody is created twice and the merge rules
hold (S10, S17)."""

import threading
from uuid import UUID

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from omnikanal.customers.models import Identifier, Profile
from omnikanal.events.resolver import Resolver
from tests.integration.commerce.conftest import GBG, LATTE, Shop

PEOPLE = 12


def test_till_sales_and_the_resolver_placing_the_same_people_make_one_profile_each(
    shop: Shop,
) -> None:
    app: FastAPI = shop.client.app  # type: ignore[assignment]
    resolver: Resolver = app.state.resolver
    resolver.enabled = False
    resolver.batch_size = 2  # many small batches, interleaved with the sales
    plain = TestClient(app)
    batch = [
        {
            "type": "identify",
            "messageId": f"m-{i}",
            "anonymousId": f"device-{i}",
            "traits": {"email": f"p{i}@example.com", "loyalty_card": f"7000{i:04d}"},
        }
        for i in range(PEOPLE)
    ]
    assert (
        plain.post("/v1/batch", json={"batch": batch}, headers=shop.web_events).status_code == 200
    )
    errors: list[str] = []
    sold_to: list[str] = []

    def sell() -> None:
        till = TestClient(app)
        for i in range(PEOPLE):
            customer = {"email": f"P{i}@example.com", "loyalty_card": f"7000 {i:04d}"}
            sale = {
                "currency": "SEK",
                "lines": [{"sku": LATTE, "quantity": 1}],
                "tenders": [{"type": "cash"}],
                "customer": customer,
            }
            answer = till.post("/v1/orders", json=sale, headers=shop.gbg)
            if answer.status_code != 201 or answer.json()["profile_id"] is None:
                errors.append(answer.text)
            else:
                sold_to.append(answer.json()["profile_id"])

    def resolve() -> None:
        try:
            resolver.drain()
        except Exception as exc:
            errors.append(repr(exc))

    threads = [threading.Thread(target=sell), threading.Thread(target=resolve)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert resolver.drain() == 0
    assert shop.stock(GBG, LATTE)[0] == 50 - PEOPLE

    with shop.factory() as session:
        live = set(session.scalars(select(Profile.id).where(Profile.merged_into.is_(None))))
        owned = [
            (row.type, row.value, row.profile_id)
            for row in session.execute(
                select(Identifier.type, Identifier.value, Identifier.profile_id)
            )
        ]
        # Every sale is on one of them (or on a profile merged into one).
        for sold in sold_to:
            profile = session.get(Profile, UUID(sold))
            assert profile is not None
            assert (profile.merged_into or profile.id) in live
    assert len(live) == PEOPLE
    assert all(profile_id in live for _, _, profile_id in owned)
    # Each person's email, card and device on one live profile; one card per profile.
    for i in range(PEOPLE):
        mine = {f"p{i}@example.com", f"7000{i:04d}", f"device-{i}"}
        holders = {profile_id for _, value, profile_id in owned if value in mine}
        assert len(holders) == 1, i
    cards = [profile_id for type_, _, profile_id in owned if type_ == "loyalty_card"]
    assert len(cards) == len(set(cards)) == PEOPLE
