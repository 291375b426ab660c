import asyncio
import threading
import time
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from omnikanal.auth.models import Role, SecretKey, Source
from omnikanal.commerce.models import Order
from omnikanal.idempotency import service as idempotency_service
from omnikanal.idempotency.models import IdempotencyRecord
from omnikanal.uow import unit_of_work
from tests.factories import bearer, create_secret_key
from tests.integration.commerce.conftest import GBG, LATTE, _catalog, _locations
from tests.server import running


@pytest.fixture
def admin(session_factory: sessionmaker[Session]) -> dict[str, str]:
    return bearer(create_secret_key(session_factory))


def count(factory: sessionmaker[Session], model: type) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_same_key_replays_the_first_response(
    client: TestClient, admin: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    headers = {**admin, "Idempotency-Key": "create-web-1"}
    body = {"name": "Web shop", "channel": "web"}
    first = client.post("/v1/sources", json=body, headers=headers)
    second = client.post("/v1/sources", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert count(session_factory, Source) == 1


def test_same_key_with_another_body_is_409(
    client: TestClient, admin: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    headers = {**admin, "Idempotency-Key": "k-1"}
    client.post("/v1/sources", json={"name": "A", "channel": "web"}, headers=headers)
    reused = client.post("/v1/sources", json={"name": "B", "channel": "web"}, headers=headers)
    assert reused.status_code == 409
    assert reused.json()["code"] == "idempotency_key_reused"
    assert count(session_factory, Source) == 1


def test_keys_are_scoped_to_the_credential(
    client: TestClient, admin: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    other_admin = bearer(create_secret_key(session_factory))
    body = {"name": "A", "channel": "web"}
    client.post("/v1/sources", json=body, headers={**admin, "Idempotency-Key": "same"})
    client.post("/v1/sources", json=body, headers={**other_admin, "Idempotency-Key": "same"})
    assert count(session_factory, Source) == 2


def test_failed_requests_are_not_remembered(
    client: TestClient, admin: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    headers = {**admin, "Idempotency-Key": "try-again"}
    bad = client.post("/v1/sources", json={"name": "A", "channel": "fax"}, headers=headers)
    assert bad.status_code == 422
    good = client.post("/v1/sources", json={"name": "A", "channel": "fax"}, headers=headers)
    assert good.status_code == 422
    assert count(session_factory, IdempotencyRecord) == 0


def test_overlong_key_is_400(client: TestClient, admin: dict[str, str]) -> None:
    response = client.post(
        "/v1/sources",
        json={"name": "A", "channel": "web"},
        headers={**admin, "Idempotency-Key": "x" * 256},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "idempotency_key_invalid"


def test_concurrent_retries_create_one_thing(
    client: TestClient, admin: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    headers = {**admin, "Idempotency-Key": "race"}
    statuses: list[int] = []
    bodies: list[dict[str, object]] = []

    def post() -> None:
        response = client.post("/v1/keys", json={"role": "agent"}, headers=headers)
        statuses.append(response.status_code)
        if response.status_code == 201:
            bodies.append(response.json())

    threads = [threading.Thread(target=post) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # The admin's own key plus exactly one agent key.
    assert count(session_factory, SecretKey) == 2
    assert set(statuses) <= {201, 409}
    assert len({str(b["id"]) for b in bodies}) == 1


def test_expired_records_are_purged(session_factory: sessionmaker[Session]) -> None:
    request = idempotency_service.describe(
        key="old", credential="Bearer x", method="POST", path="/v1/x", body=b"{}"
    )
    with unit_of_work(session_factory) as session:
        idempotency_service.remember(
            session, request, status_code=201, headers={"content-type": "x"}, body=b"{}"
        )
    with unit_of_work(session_factory) as session:
        assert idempotency_service.purge_expired(session, older_than=timedelta(hours=24)) == 0
        assert idempotency_service.purge_expired(session, older_than=timedelta(0)) == 1


def _till(session_factory: sessionmaker[Session]) -> dict[str, str]:
    with unit_of_work(session_factory) as session:
        _catalog(session)
        _locations(session)  # Göteborg has 50 lattes
    return bearer(create_secret_key(session_factory, role=Role.STORE, location=GBG))


LATTE_SALE = {
    "currency": "SEK",
    "lines": [{"sku": LATTE, "quantity": 1}],
    "tenders": [{"type": "cash"}],
}


def _orders(factory: sessionmaker[Session]) -> int:
    return count(factory, Order)


def test_retries_of_a_sale_replay_without_stalling_new_sales(
    app: FastAPI, session_factory: sessionmaker[Session]
) -> None:
    """A replay is read without the write lock and without database I/O on the event loop:
    repeats of a key amid new sales neither stall the server nor answer 5xx (SQLite)."""
    till = _till(session_factory)

    async def run(base_url: str) -> tuple[httpx.Response, list[httpx.Response]]:
        limits = httpx.Limits(max_connections=40)
        async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as client:
            first = await client.post(
                "/v1/orders", json=LATTE_SALE, headers={**till, "Idempotency-Key": "K"}
            )
            new = [
                client.post(
                    "/v1/orders", json=LATTE_SALE, headers={**till, "Idempotency-Key": f"n{i}"}
                )
                for i in range(24)
            ]
            repeats = [
                client.post("/v1/orders", json=LATTE_SALE, headers={**till, "Idempotency-Key": "K"})
                for _ in range(6)
            ]
            return first, list(await asyncio.gather(*repeats, *new))

    with running(app) as base_url:
        started = time.monotonic()
        first, answers = asyncio.run(run(base_url))
        elapsed = time.monotonic() - started
    assert first.status_code == 201, first.text
    assert [a.status_code for a in answers] == [201] * 30, [a.text for a in answers if a.is_error]
    repeats = answers[:6]
    assert all(r.headers.get("idempotent-replayed") == "true" for r in repeats)
    assert {r.json()["id"] for r in repeats} == {first.json()["id"]}
    assert not any("idempotent-replayed" in a.headers for a in answers[6:])
    assert _orders(session_factory) == 25
    assert elapsed < 10, f"31 till sales took {elapsed:.1f} s"


def test_simultaneous_sales_with_one_new_key_make_one_order(
    app: FastAPI, session_factory: sessionmaker[Session]
) -> None:
    till = _till(session_factory)
    headers = {**till, "Idempotency-Key": "together"}

    async def run(base_url: str) -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
            return list(
                await asyncio.gather(
                    *(client.post("/v1/orders", json=LATTE_SALE, headers=headers) for _ in range(8))
                )
            )

    with running(app) as base_url:
        started = time.monotonic()
        answers = asyncio.run(run(base_url))
        elapsed = time.monotonic() - started
    statuses = [a.status_code for a in answers]
    assert set(statuses) <= {201, 409}, [a.text for a in answers]
    made = [a for a in answers if a.status_code == 201]
    assert {a.json()["id"] for a in made} == {made[0].json()["id"]}
    assert sum(1 for a in made if "idempotent-replayed" not in a.headers) == 1
    assert all(
        a.json()["code"] == "idempotency_key_in_use" for a in answers if a.status_code == 409
    )
    assert _orders(session_factory) == 1
    assert elapsed < 10, f"8 till sales took {elapsed:.1f} s"
