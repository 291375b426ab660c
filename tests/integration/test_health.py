from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from omnikanal import migrate
from omnikanal.app import create_app
from omnikanal.config import Settings
from omnikanal.events.models import InboxMessage
from tests.integration.events.test_inbox import append


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


def test_ready_reports_the_resolution_lag_and_is_unready_past_its_bound(
    app: FastAPI, client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    assert client.get("/ready").json()["resolution"] == {"lagging_messages": 0, "lag_seconds": 0}
    append(session_factory, 3, age=timedelta(seconds=30))
    ready = client.get("/ready")
    assert ready.status_code == 200
    lag = ready.json()["resolution"]
    assert lag["lagging_messages"] == 3
    assert 29 <= lag["lag_seconds"] < 60
    app.state.settings = app.state.settings.model_copy(update={"max_resolution_lag_seconds": 20})
    lagging = client.get("/ready")
    assert lagging.status_code == 503
    assert lagging.headers["content-type"] == "application/problem+json"
    assert lagging.json()["code"] == "resolution_lagging"
    assert lagging.json()["resolution"]["lagging_messages"] == 3
    # Resolved: ready again.
    with session_factory() as session:
        session.execute(delete(InboxMessage))
        session.commit()
    assert client.get("/ready").status_code == 200
