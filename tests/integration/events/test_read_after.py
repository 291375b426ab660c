"""Read-your-writes on demand: a read given a position waits until resolution passed it.

"Pending" is an inbox row at or below the position; "resolved" is the row deleted, in the
same transaction as the identity work it stands for, as the resolver does.
"""

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from omnikanal.customers import service as customers_service
from omnikanal.events.models import InboxMessage
from omnikanal.kit.time import utcnow
from omnikanal.uow import unit_of_work
from tests.factories import bearer, create_secret_key
from tests.integration.events.test_inbox import append
from tests.server import running


@pytest.fixture
def admin(session_factory: sessionmaker[Session]) -> dict[str, str]:
    return bearer(create_secret_key(session_factory))


def wait_at_most(app: FastAPI, seconds: float) -> None:
    app.state.settings = app.state.settings.model_copy(update={"read_wait_seconds": seconds})


class LaterResolution(threading.Thread):
    """After ``delay``, places ``user_id``'s person and deletes the inbox row, in one
    transaction: what the resolver does for an identify. ``committed_at`` is when that
    transaction committed (``time.monotonic``)."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        position: int,
        *,
        delay: float,
        user_id: str | None = None,
    ) -> None:
        super().__init__(daemon=True)
        self.factory = factory
        self.position = position
        self.delay = delay
        self.user_id = user_id
        self.committed_at: float | None = None

    def run(self) -> None:
        time.sleep(self.delay)
        with unit_of_work(self.factory) as session:
            if self.user_id is not None:
                identifiers = customers_service.identifiers_for(session, user_id=self.user_id)
                customers_service.place(
                    session, identifiers=identifiers, channel="web", at=utcnow()
                )
            session.execute(delete(InboxMessage).where(InboxMessage.position <= self.position))
        self.committed_at = time.monotonic()


def resolve_later(
    factory: sessionmaker[Session], position: int, *, delay: float, user_id: str | None = None
) -> LaterResolution:
    resolution = LaterResolution(factory, position, delay=delay, user_id=user_id)
    resolution.start()
    return resolution


def found_ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def test_a_read_with_the_position_sees_the_write_and_one_without_is_eventual(
    app: FastAPI, client: TestClient, session_factory: sessionmaker[Session], admin: dict[str, str]
) -> None:
    # A bound far above the resolution's delay, so a slow machine cannot turn it into a 503;
    # what is checked is that the read ends soon after the resolution, not at the bound.
    wait_at_most(app, 15)
    (position,) = append(session_factory, 1, age=timedelta(0))
    # Without a position: what is placed now, while the message is pending (nobody yet: it
    # did not wait, which would take the 15 s bound and answer 503).
    assert found_ids(client.get("/v1/profiles?user_id=ryw-1", headers=admin)) == []
    # The resolution comes a second later (started only now: a read on a busy machine
    # took more than a second, and the resolution came first).
    started = time.monotonic()
    resolver = resolve_later(session_factory, position, delay=1.0, user_id="ryw-1")
    # With it: waits for the resolution, then sees the person.
    found = client.get(f"/v1/profiles?user_id=ryw-1&after={position}", headers=admin)
    answered_at = time.monotonic()
    assert len(found_ids(found)) == 1
    resolver.join()
    assert resolver.committed_at is not None
    assert answered_at - started >= 0.9
    assert resolver.committed_at <= answered_at < resolver.committed_at + 1.0
    # The header does the same; an already resolved position does not wait.
    started = time.monotonic()
    again = client.get(
        "/v1/profiles?user_id=ryw-1", headers={**admin, "Omnikanal-Position": str(position)}
    )
    assert found_ids(again) == found_ids(found)
    assert time.monotonic() - started < 2  # far below the 15 s a wait would take


def test_past_the_bound_the_read_answers_503_with_retry_after(
    app: FastAPI, client: TestClient, session_factory: sessionmaker[Session], admin: dict[str, str]
) -> None:
    wait_at_most(app, 0.3)
    (position,) = append(session_factory, 1, age=timedelta(0))
    started = time.monotonic()
    response = client.get(
        f"/v1/profiles/{uuid4()}", headers={**admin, "Omnikanal-Position": str(position)}
    )
    assert time.monotonic() - started >= 0.3
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "resolution_pending"
    assert problem["position"] == position
    assert str(position) in problem["detail"]
    # A position below the pending one is resolved: no wait, the read's own answer.
    assert (
        client.get(f"/v1/profiles/{uuid4()}?after={position - 1}", headers=admin).status_code == 404
    )


def test_the_key_is_checked_before_any_wait(
    app: FastAPI, client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    wait_at_most(app, 5)
    (position,) = append(session_factory, 1, age=timedelta(0))
    started = time.monotonic()
    response = client.get(f"/v1/profiles/{uuid4()}?after={position}")
    assert response.status_code == 401
    assert time.monotonic() - started < 1


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("after=-1", "query.after"),
        ("after=x", "query.after"),
        (f"after={2**63}", "query.after"),
    ],
)
def test_a_position_is_a_non_negative_integer(
    client: TestClient, admin: dict[str, str], query: str, field: str
) -> None:
    response = client.get(f"/v1/profiles/{uuid4()}?{query}", headers=admin)
    assert response.status_code == 422
    assert response.json()["code"] == "validation_failed"
    assert [e["field"] for e in response.json()["errors"]] == [field]
    header = client.get(f"/v1/profiles/{uuid4()}", headers={**admin, "Omnikanal-Position": "-1"})
    assert header.status_code == 422
    assert [e["field"] for e in header.json()["errors"]] == ["header.Omnikanal-Position"]


@pytest.fixture
def conversation(client: TestClient, admin: dict[str, str]) -> UUID:
    posted = client.post(
        "/v1/conversations/messages",
        json={"channel": "chat", "user_id": "ryw-2", "body": "Where is my order?"},
        headers=admin,
    )
    assert posted.status_code == 201, posted.text
    return UUID(posted.json()["conversation_id"])


IDENTITY_READS = [
    "/v1/profiles?user_id=ryw-2",
    "/v1/profiles/{profile}",
    "/v1/profiles/{profile}/timeline",
    "/v1/profiles/{profile}/merges",
    "/v1/profiles/{profile}/consents",
    "/v1/carts/current?user_id=ryw-2",
    "/v1/conversations/{conversation}/context",
    "/v1/loyalty/{profile}",
]


@pytest.mark.parametrize("path", IDENTITY_READS)
def test_every_read_that_depends_on_identity_waits_for_its_position(
    app: FastAPI,
    client: TestClient,
    session_factory: sessionmaker[Session],
    admin: dict[str, str],
    conversation: UUID,
    path: str,
) -> None:
    context = client.get(f"/v1/conversations/{conversation}/context", headers=admin)
    url = path.format(profile=context.json()["customer"]["profile_id"], conversation=conversation)
    wait_at_most(app, 0.05)
    (position,) = append(session_factory, 1, age=timedelta(0))
    pending = client.get(url, headers={**admin, "Omnikanal-Position": str(position)})
    assert pending.status_code == 503
    assert pending.json()["code"] == "resolution_pending"
    assert pending.headers["retry-after"] == "1"
    # Without a position, the same read is answered as before (eventual).
    assert client.get(url, headers=admin).status_code in (200, 404)
    wait_at_most(app, 2)
    resolve_later(session_factory, position, delay=0.1).join()
    assert client.get(
        f"{url}{'&' if '?' in url else '?'}after={position}", headers=admin
    ).status_code in (200, 404)


@pytest.fixture
def served(app: FastAPI) -> Iterator[str]:
    with running(app) as base_url:
        yield base_url


def test_a_waiting_read_does_not_hold_up_other_requests(
    app: FastAPI, served: str, session_factory: sessionmaker[Session], admin: dict[str, str]
) -> None:
    # The other requests must all be answered while the reads still wait: well inside this.
    wait_at_most(app, 4)
    (position,) = append(session_factory, 1, age=timedelta(0))
    answers: list[Any] = []

    def waiting_read() -> None:
        answers.append(
            httpx.get(f"{served}/v1/profiles/{uuid4()}?after={position}", headers=admin, timeout=10)
        )

    readers = [threading.Thread(target=waiting_read) for _ in range(3)]
    for reader in readers:
        reader.start()
    time.sleep(0.2)
    with httpx.Client(base_url=served, timeout=5) as other:
        for _ in range(5):
            assert other.get("/health").status_code == 200
            assert other.get("/v1/sources", headers=admin).status_code == 200
    assert all(reader.is_alive() for reader in readers), "answered only after the reads ended"
    for reader in readers:
        reader.join()
    assert [a.status_code for a in answers] == [503, 503, 503]
