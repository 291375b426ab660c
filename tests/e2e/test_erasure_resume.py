"""S16: an erasure survives a kill -9 of the server running it: after a restart the job
resumes at the first domain not done, reaches done, and nothing of the person is left."""

import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from omnikanal.auth.models import Channel
from omnikanal.customers.models import Identifier
from omnikanal.events.models import Event
from tests.factories import basic, bearer, create_secret_key, create_source
from tests.server import OmnikanalProcess, free_port, omnikanal_env, omnikanal_process

EMAIL = "kill.nine@example.com"


@contextmanager
def serve(database_url: str, data_dir: Path) -> Iterator[tuple[OmnikanalProcess, str]]:
    port = free_port()
    # Steps a little apart, so the kill lands between two of them (mid-job).
    env = omnikanal_env(
        database_url,
        data_dir,
        OMNIKANAL_ERASURE_STEP_PAUSE_SECONDS="0.4",
        OMNIKANAL_WORKER_POLL_SECONDS="0.1",
        OMNIKANAL_RESOLVER_LEASE_SECONDS="2",
    )
    command = ["serve", "--host", "127.0.0.1", "--port", str(port)]
    with omnikanal_process(command, env, data_dir / f"serve-{port}.log") as process:
        url = f"http://127.0.0.1:{port}"
        process.wait_ready(url)
        yield process, url


def wait_for(check: Callable[[], Any], *, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"not in {timeout:.0f} s: {what}")


def test_a_killed_erasure_resumes_where_it_stopped_and_finishes(
    database_url: str, tmp_path: Path, session_factory: sessionmaker[Session]
) -> None:
    write_key = create_source(session_factory, channel=Channel.WEB, name="Web")
    admin = bearer(create_secret_key(session_factory))

    with (
        serve(database_url, tmp_path) as (process, url),
        httpx.Client(base_url=url, headers=admin, timeout=10) as client,
    ):
        for number in range(3):
            sent = client.post(
                "/v1/identify",
                json={"anonymousId": f"phone-{number}", "traits": {"email": EMAIL}},
                headers=basic(write_key),
            )
            assert sent.status_code == 200, sent.text

        def profile() -> Any:
            items = client.get("/v1/profiles", params={"email": EMAIL}).json()["items"]
            return items[0]["id"] if items else None

        profile_id = wait_for(profile, timeout=30, what="the person is resolved")
        erase = client.post(f"/v1/profiles/{profile_id}/erase")
        assert erase.status_code == 202, erase.text
        location = erase.headers["location"]

        def some_steps_done() -> Any:
            found = client.get(location).json()
            done = [s for s in found["steps"] if s["status"] == "done"]
            return found if len(done) >= 3 else None

        wait_for(some_steps_done, timeout=60, what="three steps done")
        os.kill(process.pid, signal.SIGKILL)
        process.process.wait()

    with session_factory() as session:
        # Mid-job indeed: the identifiers (erased last) are still there.
        assert session.scalar(select(Identifier.id).where(Identifier.value == EMAIL)) is not None
    stopped = _request(session_factory, location)
    assert stopped["status"] == "running"
    done_before = [s["domain"] for s in stopped["steps"] if s["status"] == "done"]
    assert 3 <= len(done_before) < len(stopped["steps"])

    with (
        serve(database_url, tmp_path) as (_, url),
        httpx.Client(base_url=url, headers=admin, timeout=10) as client,
    ):
        finished = wait_for(
            lambda: (found := client.get(location).json())["status"] == "done" and found,
            timeout=120,
            what="the erasure is done after the restart",
        )
        assert all(s["status"] == "done" for s in finished["steps"])
        # The steps done before the kill were not run again after it.
        before = {
            s["domain"]: datetime.fromisoformat(s["done_at"])
            for s in stopped["steps"]
            if s["status"] == "done"
        }
        after = {
            s["domain"]: datetime.fromisoformat(s["done_at"])
            for s in finished["steps"]
            if s["domain"] in before
        }
        assert after == before
        assert client.get(f"/v1/profiles/{profile_id}").status_code == 404
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Event)) == 0
        assert session.scalar(select(Identifier.id).where(Identifier.value == EMAIL)) is None
        assert (
            session.scalar(
                select(func.count()).select_from(Event).where(Event.profile_id == UUID(profile_id))
            )
            == 0
        )


def _request(factory: sessionmaker[Session], location: str) -> dict[str, Any]:
    from omnikanal.privacy.models import PrivacyRequest

    with factory() as session:
        found = session.get(PrivacyRequest, UUID(location.rsplit("/", 1)[1]))
        assert found is not None
        return {"status": found.status, "steps": [dict(s) for s in found.steps]}
