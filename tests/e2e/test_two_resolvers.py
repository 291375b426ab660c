"""Two ``omnikanal worker`` processes against one database: exactly one resolves, holding
the lease; killed with SIGKILL, the other takes the lease over and resolves what comes
next. Every acknowledged message is stored once and each person is one profile.

``serve`` runs with its resolver off, so only the workers place messages with people."""

import os
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from omnikanal.auth.models import Channel
from omnikanal.customers.models import Profile
from omnikanal.events.dependencies import POSITION_HEADER
from omnikanal.events.models import Event, ResolverLease
from tests.factories import basic, bearer, create_secret_key, create_source
from tests.reading import wait_until_resolved
from tests.server import OmnikanalProcess, free_port, omnikanal_env, omnikanal_process

LEASE_SECONDS = 2
WAIT_SECONDS = 60.0
PEOPLE = 12
DEVICES_PER_PHASE = 2
TRACKS = 40  # on each device before its identify, and as many after
PER_REQUEST = 100


def wait_for(check: Callable[[], bool], what: str, *processes: OmnikanalProcess) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not check():
        for process in processes:
            assert process.process.poll() is None, f"{what}: exited\n{process.output()}"
        assert time.monotonic() < deadline, f"{what}: not within {WAIT_SECONDS} s"
        time.sleep(0.1)


# -- the messages: people who browse anonymously on a device, then log in on it --


def device_messages(person: int, device: int) -> list[dict[str, Any]]:
    anonymous_id = f"device-{person}-{device}"
    user_id = f"user-{person}"

    def track(n: int, **ids: str) -> dict[str, Any]:
        message_id = f"{anonymous_id}-{n}"
        return {"type": "track", "event": "Viewed", "messageId": message_id, **ids}

    before = [track(n, anonymousId=anonymous_id) for n in range(TRACKS)]
    login = {
        "type": "identify",
        "messageId": f"{anonymous_id}-login",
        "anonymousId": anonymous_id,
        "userId": user_id,
        "traits": {"email": f"person-{person}@example.com"},
    }
    after = [track(TRACKS + n, anonymousId=anonymous_id, userId=user_id) for n in range(TRACKS)]
    return [*before, login, *after]


def interleaved(devices: range, seed: int) -> list[dict[str, Any]]:
    """Every person's devices' messages, mixed, each device's in its own order."""
    queues = [device_messages(p, d) for p in range(PEOPLE) for d in devices]
    picker = random.Random(seed)
    messages: list[dict[str, Any]] = []
    while queues:
        queue = picker.choice(queues)
        messages.append(queue.pop(0))
        if not queue:
            queues.remove(queue)
    return messages


def ingest(url: str, write_key: str, messages: list[dict[str, Any]]) -> int:
    """Send in batches; every one must be acknowledged. The last answer's position."""
    position = 0
    with httpx.Client(base_url=url, headers=basic(write_key), timeout=30) as client:
        for start in range(0, len(messages), PER_REQUEST):
            chunk = messages[start : start + PER_REQUEST]
            answer = client.post("/v1/batch", json={"batch": chunk})
            assert answer.status_code == 200, answer.text
            assert answer.json()["stored"] == len(chunk)
            position = int(answer.headers[POSITION_HEADER])
    return position


# -- the lease --


def lease_holder(factory: sessionmaker[Session]) -> str | None:
    with factory() as session:
        return session.scalar(select(ResolverLease.holder))


def holder_pid(holder: str) -> int:
    return int(holder.split(":")[-2])  # host:pid:random


@contextmanager
def watching_lease(factory: sessionmaker[Session]) -> Iterator[list[str]]:
    """The lease's holders, read every 50 ms while the block runs."""
    seen: list[str] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            holder = lease_holder(factory)
            if holder is not None:
                seen.append(holder)
            stop.wait(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield seen
    finally:
        stop.set()
        watcher.join(timeout=10)
    holder = lease_holder(factory)
    if holder is not None:
        seen.append(holder)


def test_one_of_two_workers_resolves_and_the_other_takes_over_when_it_is_killed(
    database_url: str, tmp_path: Path, app: FastAPI, session_factory: sessionmaker[Session]
) -> None:
    reader: sessionmaker[Session] = app.state.read_session_factory
    write_key = create_source(session_factory, channel=Channel.APP, name="App")
    admin = bearer(create_secret_key(session_factory))
    env = omnikanal_env(
        database_url,
        tmp_path / "data",
        OMNIKANAL_RESOLVER_LEASE_SECONDS=str(LEASE_SECONDS),
        # Several batches per phase, each well inside the lease.
        OMNIKANAL_RESOLVER_BATCH_SIZE="500",
        OMNIKANAL_RESOLVER_POLL_SECONDS="0.1",
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    serve_command = ["serve", "--no-worker", "--host", "127.0.0.1", "--port", str(port)]
    with ExitStack() as stack:
        server = stack.enter_context(
            omnikanal_process(
                serve_command, {**env, "OMNIKANAL_RESOLVER": "false"}, tmp_path / "serve.log"
            )
        )
        workers = [
            stack.enter_context(omnikanal_process(["worker"], env, tmp_path / f"worker-{n}.log"))
            for n in range(2)
        ]
        server.wait_ready(url)
        for worker in workers:
            wait_for(partial(worker.printed, "worker running"), "worker running", worker)

        first = interleaved(range(DEVICES_PER_PHASE), seed=1)
        with watching_lease(reader) as before_kill:
            position = ingest(url, write_key, first)
            wait_until_resolved(reader, position, timeout=WAIT_SECONDS)
        assert len(before_kill) >= 3
        assert len(set(before_kill)) == 1, f"the lease changed hands: {set(before_kill)}"
        working = before_kill[-1]
        by_pid = {worker.pid: worker for worker in workers}
        assert holder_pid(working) in by_pid, working
        killed = by_pid.pop(holder_pid(working))
        [survivor] = by_pid.values()

        for worker in workers:
            assert "Traceback" not in worker.output(), worker.output()
        os.kill(killed.pid, signal.SIGKILL)
        killed.process.wait(timeout=10)
        second = interleaved(range(DEVICES_PER_PHASE, 2 * DEVICES_PER_PHASE), seed=2)
        with watching_lease(reader) as after_kill:
            position = ingest(url, write_key, second)
            wait_until_resolved(reader, position, timeout=WAIT_SECONDS)
        assert survivor.process.poll() is None, survivor.output()
        taken_over = after_kill[-1]
        assert taken_over != working
        assert holder_pid(taken_over) == survivor.pid
        assert set(after_kill) <= {working, taken_over}
        assert "Traceback" not in survivor.output(), survivor.output()

        with session_factory() as session:
            counts = select(Event.message_id, func.count()).group_by(Event.message_id)
            stored = dict(session.execute(counts).all())
            people = session.scalar(
                select(func.count()).select_from(Profile).where(Profile.merged_into.is_(None))
            )
        sent = [message["messageId"] for message in first + second]
        assert len(set(sent)) == len(sent)
        assert stored == dict.fromkeys(sent, 1)
        assert people == PEOPLE

        with httpx.Client(base_url=url, headers=admin, timeout=10) as client:
            for person in range(PEOPLE):
                answer = client.get("/v1/profiles", params={"user_id": f"user-{person}"})
                assert answer.status_code == 200, answer.text
                [profile] = answer.json()["items"]
                email = f"person-{person}@example.com"
                assert profile["traits"]["email"] == email
                identifiers = {(i["type"], i["value"]) for i in profile["identifiers"]}
                devices = range(2 * DEVICES_PER_PHASE)
                assert identifiers == {
                    ("user_id", f"user-{person}"),
                    ("email", email),
                    *(("anonymous_id", f"device-{person}-{d}") for d in devices),
                }
