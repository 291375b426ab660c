"""The group-commit writer survives what one message or one failure can do to it, and
`/ready` tells a load balancer when it cannot ingest."""

from collections.abc import Sequence
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from omnikanal.auth.models import Channel
from omnikanal.events import service
from omnikanal.events.service import IngestJob, IngestOutcome
from omnikanal.events.writer import IngestWriter
from tests.factories import basic, create_source


@pytest.fixture
def web(session_factory: sessionmaker[Session]) -> dict[str, str]:
    return basic(create_source(session_factory, channel=Channel.WEB, name="Web shop"))


def track(message_id: str) -> dict[str, Any]:
    return {"type": "track", "event": "Viewed", "anonymousId": "a-1", "messageId": message_id}


class Unprintable(Exception):
    """An error that fails again when it is logged (as a too-deep value's repr does)."""

    def __str__(self) -> str:
        raise RecursionError("maximum recursion depth exceeded while getting the repr")


def test_an_error_that_cannot_be_logged_fails_its_request_only(
    client: TestClient, web: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def unprintable(session: Session, jobs: Sequence[IngestJob]) -> list[IngestOutcome]:
        raise Unprintable

    monkeypatch.setattr(service, "append", unprintable)
    failed = client.post("/v1/batch", json={"batch": [track("m-1"), track("m-2")]}, headers=web)
    assert failed.status_code == 500
    monkeypatch.undo()
    stored = client.post("/v1/track", json=track("m-3"), headers=web)
    assert stored.status_code == 200
    assert stored.json()["stored"] == 1
    assert client.get("/ready").status_code == 200


class ThreadKiller(BaseException):
    """Not an Exception: nothing in the writer's loop catches it, so its thread ends."""


# The dying thread's error reaches threading.excepthook, as it should.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_dead_writer_is_unready_and_the_next_ingest_revives_it(
    app: FastAPI, client: TestClient, web: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    writer: IngestWriter = app.state.ingest_writer
    assert client.post("/v1/track", json=track("m-1"), headers=web).status_code == 200
    assert writer.alive

    def die(group: Any) -> None:
        raise ThreadKiller

    monkeypatch.setattr(writer, "_write", die)
    # The request whose group was being written when the thread died is answered, not left
    # waiting.
    killed = client.post("/v1/track", json=track("m-2"), headers=web)
    assert killed.status_code == 500
    assert not writer.alive
    ready = client.get("/ready")
    assert ready.status_code == 503
    assert ready.json()["code"] == "ingest_writer_down"
    monkeypatch.undo()
    revived = client.post("/v1/track", json=track("m-3"), headers=web)
    assert revived.status_code == 200
    assert revived.json()["stored"] == 1
    assert writer.alive
    assert client.get("/ready").status_code == 200
