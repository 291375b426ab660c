import threading
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from omnikanal.auth.models import SecretKey, Source
from omnikanal.idempotency import service as idempotency_service
from omnikanal.idempotency.models import IdempotencyRecord
from omnikanal.uow import unit_of_work
from tests.factories import bearer, create_secret_key


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
