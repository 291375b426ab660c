import gzip
import sqlite3
from collections.abc import Iterator

import httpx
import psycopg.errors
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from omnikanal import db
from omnikanal.app import create_app
from omnikanal.config import Settings
from tests.factories import bearer, create_secret_key
from tests.server import running


@pytest.fixture
def admin(session_factory: sessionmaker[Session]) -> dict[str, str]:
    return bearer(create_secret_key(session_factory))


def assert_problem(response_json: dict[str, object], status: int, code: str) -> None:
    assert response_json["status"] == status
    assert response_json["code"] == code
    assert response_json["type"] == f"/problems/{code}"
    assert {"title", "detail"} <= response_json.keys()


def test_malformed_json_is_400(client: TestClient, admin: dict[str, str]) -> None:
    response = client.post(
        "/v1/keys",
        content=b'{"role": "admin",',
        headers={**admin, "content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert_problem(response.json(), 400, "malformed_json")


def test_validation_errors_name_the_fields(client: TestClient, admin: dict[str, str]) -> None:
    response = client.post(
        "/v1/sources", json={"name": "", "channel": "telegraph", "location": 7}, headers=admin
    )
    assert response.status_code == 422
    body = response.json()
    assert_problem(body, 422, "validation_failed")
    fields = {error["field"] for error in body["errors"]}
    assert fields == {"body.name", "body.channel", "body.location"}


def test_body_over_the_limit_is_413(settings: Settings, admin: dict[str, str]) -> None:
    client = TestClient(create_app(settings.model_copy(update={"max_body_bytes": 1000})))
    big = b'{"name": "' + b"x" * 2000 + b'", "channel": "web"}'
    declared = client.post(
        "/v1/sources", content=big, headers={**admin, "content-type": "application/json"}
    )
    assert declared.status_code == 413
    assert_problem(declared.json(), 413, "payload_too_large")

    def chunks() -> Iterator[bytes]:
        yield big[:800]
        yield big[800:]

    streamed = client.post(
        "/v1/sources",
        content=chunks(),
        headers={**admin, "content-type": "application/json"},
    )
    assert streamed.status_code == 413


def test_gzip_bodies_are_accepted_and_bombs_refused(
    settings: Settings, admin: dict[str, str]
) -> None:
    client = TestClient(create_app(settings.model_copy(update={"max_body_bytes": 10_000})))
    small = gzip.compress(b'{"name": "Web shop", "channel": "web"}')
    ok = client.post(
        "/v1/sources",
        content=small,
        headers={**admin, "content-type": "application/json", "content-encoding": "gzip"},
    )
    assert ok.status_code == 201
    bomb = gzip.compress(b'{"name": "' + b"a" * 1_000_000 + b'", "channel": "web"}')
    assert len(bomb) < 10_000
    refused = client.post(
        "/v1/sources",
        content=bomb,
        headers={**admin, "content-type": "application/json", "content-encoding": "gzip"},
    )
    assert refused.status_code == 413
    corrupt = client.post(
        "/v1/sources",
        content=b"not gzip at all",
        headers={**admin, "content-type": "application/json", "content-encoding": "gzip"},
    )
    assert corrupt.status_code == 400
    brotli = client.post(
        "/v1/sources",
        content=b"{}",
        headers={**admin, "content-type": "application/json", "content-encoding": "br"},
    )
    assert_problem(brotli.json(), 400, "unsupported_content_encoding")


def test_unknown_path_and_method_are_problems(client: TestClient) -> None:
    missing = client.get("/v1/nothing-here")
    assert missing.status_code == 404
    assert_problem(missing.json(), 404, "not_found")
    wrong_method = client.delete("/health")
    assert wrong_method.status_code == 405
    assert_problem(wrong_method.json(), 405, "method_not_allowed")


def test_unexpected_error_hides_the_trace_and_carries_the_request_id(
    app: FastAPI, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    router = APIRouter()

    @router.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internal detail")

    app.include_router(router)
    response = client.get("/boom", headers={"X-Request-ID": "req-123"})
    assert response.status_code == 500
    body = response.json()
    assert_problem(body, 500, "internal_error")
    assert body["request_id"] == "req-123"
    assert response.headers["x-request-id"] == "req-123"
    assert "secret internal detail" not in response.text
    assert "Traceback" not in response.text
    assert "req-123" in caplog.text
    assert "secret internal detail" in caplog.text


def test_every_response_has_a_request_id(client: TestClient) -> None:
    first = client.get("/health").headers["x-request-id"]
    second = client.get("/health").headers["x-request-id"]
    assert first
    assert second
    assert first != second


def test_a_500_keeps_the_kept_alive_connection_usable(app: FastAPI) -> None:
    router = APIRouter()

    @router.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internal detail")

    app.include_router(router)
    with running(app) as base_url, httpx.Client(base_url=base_url) as client:
        opened: list[object] = []
        failed = client.get(
            "/boom",
            headers={"X-Request-ID": "req-500"},
            extensions={"trace": lambda name, info: opened.append(name)},
        )
        assert failed.status_code == 500
        assert_problem(failed.json(), 500, "internal_error")
        assert failed.json()["request_id"] == "req-500"
        assert failed.headers["x-request-id"] == "req-500"
        assert failed.headers.get("connection") != "close"
        # The same connection answers the next request: no reset, no new connection.
        following = client.get(
            "/health", extensions={"trace": lambda name, info: opened.append(name)}
        )
        assert following.status_code == 200
        assert opened.count("connection.connect_tcp.complete") == 1


def test_a_write_waiting_too_long_for_sqlites_lock_is_503_with_retry_after(
    client: TestClient,
    admin: dict[str, str],
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another writer (a long import, a backup) holds SQLite's one write lock past the
    wait: the request is refused as a moment's unavailability, and sent again it lands."""
    if not database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL has no database-wide write lock (see the next test)")
    monkeypatch.setattr(db, "WRITE_LOCK_TIMEOUT_SECONDS", 0.3)
    source = {"name": "Kiosk 7", "channel": "pos", "location": "sthlm"}
    holder = sqlite3.connect(make_url(database_url).database or "", isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        busy = client.post("/v1/sources", json=source, headers=admin)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert busy.status_code == 503, busy.text
    assert busy.headers["retry-after"] == "2"
    assert_problem(busy.json(), 503, "database_busy")
    assert busy.json()["request_id"] == busy.headers["x-request-id"]
    again = client.post("/v1/sources", json=source, headers=admin)
    assert again.status_code == 201, again.text
    listed = client.get("/v1/sources", headers=admin).json()
    assert [s["name"] for s in listed].count("Kiosk 7") == 1


@pytest.mark.parametrize(
    "refusal",
    [
        psycopg.errors.LockNotAvailable("could not obtain lock"),
        psycopg.errors.TooManyConnections("too many clients already"),
        psycopg.errors.DeadlockDetected("deadlock detected"),  # on every attempt
    ],
    ids=["lock", "connections", "deadlocks"],
)
def test_a_database_too_busy_to_answer_is_503_and_a_broken_one_500(
    app: FastAPI, client: TestClient, refusal: Exception
) -> None:
    router = APIRouter()

    @router.get("/busy")
    def busy() -> None:
        raise OperationalError("SELECT 1", {}, refusal)

    @router.get("/broken")
    def broken() -> None:
        raise OperationalError("SELECT 1", {}, psycopg.errors.UndefinedTable("no such table"))

    app.include_router(router)
    answer = client.get("/busy")
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "2"
    assert_problem(answer.json(), 503, "database_busy")
    assert client.get("/broken").status_code == 500
