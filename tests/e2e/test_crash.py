"""A real ``omnikanal serve`` killed with SIGKILL mid-ingest: every message it acknowledged
is stored and resolved after a restart, and replaying acknowledged batches stores nothing
twice (S18: a phone that got no answer, or lost it, sends again)."""

import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from omnikanal.auth.models import Channel
from omnikanal.events.dependencies import POSITION_HEADER
from omnikanal.events.models import Event
from tests.factories import basic, create_source
from tests.reading import wait_until_resolved
from tests.server import OmnikanalProcess, free_port, omnikanal_env, omnikanal_process

SENDERS = 3
MESSAGES_PER_BATCH = 50


@contextmanager
def serve(database_url: str, data_dir: Path) -> Iterator[tuple[OmnikanalProcess, str]]:
    port = free_port()
    # The killed process's lease lapses quickly, so the restarted one takes over.
    env = omnikanal_env(database_url, data_dir, OMNIKANAL_RESOLVER_LEASE_SECONDS="2")
    command = ["serve", "--host", "127.0.0.1", "--port", str(port), "--no-worker"]
    with omnikanal_process(command, env, data_dir / f"serve-{port}.log") as process:
        url = f"http://127.0.0.1:{port}"
        process.wait_ready(url)
        yield process, url


def batch(sender: int, number: int) -> dict[str, Any]:
    return {
        "batch": [
            {
                "type": "identify" if i == 0 else "track",
                "event": "Viewed",
                "messageId": f"s{sender}-b{number}-m{i}",
                "anonymousId": f"device-{sender}-{number % 7}",
                "traits": {"email": f"p{number % 11}@example.com"},
            }
            for i in range(MESSAGES_PER_BATCH)
        ]
    }


def test_a_killed_server_loses_no_acknowledged_message_and_replays_store_nothing_twice(
    database_url: str, tmp_path: Path, session_factory: sessionmaker[Session]
) -> None:
    write_key = create_source(session_factory, channel=Channel.APP, name="App")
    acknowledged: list[tuple[dict[str, Any], int]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def send(sender: int, url: str) -> None:
        with httpx.Client(base_url=url, headers=basic(write_key), timeout=10) as client:
            for number in range(10_000):
                if stop.is_set():
                    return
                body = batch(sender, number)
                try:
                    answer = client.post("/v1/batch", json=body)
                except httpx.HTTPError:
                    return  # the server is gone: this batch was not acknowledged
                if answer.status_code == 200:
                    assert answer.json()["stored"] == MESSAGES_PER_BATCH
                    with lock:
                        acknowledged.append((body, int(answer.headers[POSITION_HEADER])))

    with serve(database_url, tmp_path) as (process, url):
        senders = [threading.Thread(target=send, args=(s, url)) for s in range(SENDERS)]
        for sender in senders:
            sender.start()
        deadline = time.monotonic() + 30
        while len(acknowledged) < 40 and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(process.pid, signal.SIGKILL)
        process.process.wait()
        stop.set()
        for sender in senders:
            sender.join()
    assert len(acknowledged) >= 40

    with serve(database_url, tmp_path) as (_, url):
        wait_until_resolved(session_factory, max(p for _, p in acknowledged), timeout=60)
        with session_factory() as session:
            stored = set(session.scalars(select(Event.message_id)))
        sent = {m["messageId"] for body, _ in acknowledged for m in body["batch"]}
        assert sent <= stored
        with httpx.Client(base_url=url, headers=basic(write_key), timeout=10) as client:
            for body, _ in acknowledged[::10]:  # a tenth of them
                replay = client.post("/v1/batch", json=body).json()
                assert (replay["stored"], replay["duplicates"]) == (0, MESSAGES_PER_BATCH)
