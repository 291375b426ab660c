"""A request whose transaction the database broke off (a deadlock's victim, a failed
serialization) runs again in a new transaction instead of answering 500."""

import threading
import time
from typing import Any

import psycopg.errors
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from omnikanal.customers import repository as customers_repository
from omnikanal.customers import service as customers_service
from omnikanal.customers.models import Identifier, Profile
from omnikanal.kit.ids import new_id
from omnikanal.kit.time import utcnow
from tests.integration.commerce.conftest import COAT, Shop


def _identifiers(shop: Shop, anonymous_id: str) -> int:
    with shop.factory() as session:
        query = select(func.count()).where(
            Identifier.type == "anonymous_id", Identifier.value == anonymous_id
        )
        return int(session.scalar(query) or 0)


def test_a_cart_broken_off_by_a_deadlock_runs_again(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first attempt makes the new shopper, then the database breaks it off: the
    answer is the second attempt's, and the first left nothing behind."""
    made = customers_service._new_person
    attempts: list[int] = []

    def deadlocked_once(*args: Any, **kwargs: Any) -> Any:
        placed = made(*args, **kwargs)
        attempts.append(1)
        if len(attempts) == 1:
            raise OperationalError("SELECT 1", {}, psycopg.errors.DeadlockDetected("deadlock"))
        return placed

    monkeypatch.setattr(customers_service, "_new_person", deadlocked_once)
    body = {"currency": "SEK", "anonymous_id": "broken-off-1", "items": [{"sku": COAT}]}
    first = shop.ok(shop.client.post("/v1/carts", json=body, headers=shop.web), 201)
    assert len(attempts) == 2
    assert [line["quantity"] for line in first["lines"]] == [1]
    again = shop.ok(shop.client.post("/v1/carts", json=body, headers=shop.web), 200)
    assert again["id"] == first["id"]
    assert [line["quantity"] for line in again["lines"]] == [2]
    assert _identifiers(shop, "broken-off-1") == 1


def test_a_new_shoppers_cart_and_the_resolver_making_the_same_identifier(
    shop: Shop, database_url: str
) -> None:
    """PostgreSQL: the resolver holds the identity lock and makes the identifier a new
    shopper's cart has just made (and waits for the lock in shared mode): a deadlock. The
    cart's transaction is broken off and runs again, joining the resolver's person."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer: no deadlock to break off")
    anonymous_id = "deadlock-1"
    resolver = shop.factory()
    person = new_id()
    resolver.add(Profile(id=person, channels={}, traits={}, trait_times={}))
    resolver.flush()
    customers_repository.lock_identity_graph(resolver)
    answers: list[Any] = []
    body = {"currency": "SEK", "anonymous_id": anonymous_id, "items": [{"sku": COAT}]}
    cart = threading.Thread(
        target=lambda: answers.append(shop.client.post("/v1/carts", json=body, headers=shop.web))
    )
    cart.start()
    try:
        time.sleep(0.5)  # the cart made its identifier and waits for the lock
        resolver.add(
            Identifier(
                type="anonymous_id", value=anonymous_id, profile_id=person, added_at=utcnow()
            )
        )
        resolver.flush()
        resolver.commit()
    finally:
        resolver.close()
        cart.join(timeout=30)
    assert len(answers) == 1
    answer = answers[0]
    assert answer.status_code == 201, answer.text
    assert answer.json()["profile_id"] == str(person)
    assert _identifiers(shop, anonymous_id) == 1
