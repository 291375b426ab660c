from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from omnikanal import migrate
from omnikanal.app import create_app
from omnikanal.config import Settings


def test_health_answers_without_the_database(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_when_migrations_are_current(client: TestClient) -> None:
    response = client.get("/ready")
    assert response.status_code == 200
    assert response.json()["revision"] == migrate.head_revision()


def test_not_ready_before_migrations(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'empty.sqlite3'}", embedded_worker=False
    )
    client = TestClient(create_app(settings))
    response = client.get("/ready")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "migrations_pending"


def test_openapi_document_is_published(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert document["info"]["title"] == "omnikanal"
    assert "/v1/sources" in document["paths"]


def test_not_ready_once_the_ingest_writer_is_closed(app: FastAPI, client: TestClient) -> None:
    app.state.ingest_writer.close()
    response = client.get("/ready")
    assert response.status_code == 503
    assert response.json()["code"] == "ingest_writer_down"
