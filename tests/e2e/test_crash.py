"""A real ``omnikanal serve`` killed with SIGKILL mid-ingest: every message it acknowledged
is stored and resolved after a restart, and replaying acknowledged batches stores nothing
twice (S18: a phone that got no answer, or lost it, sends again)."""

import os
import signal
import subprocess
import sys
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
from omnikanal.events.models import Event
from omnikanal.events.router import POSITION_HEADER
from tests.e2e.conftest import _free_port
from tests.factories import basic, create_source
from tests.reading import wait_until_resolved

SRC = Path(__file__).resolve().parents[2] / "src"
SENDERS = 3
MESSAGES_PER_BATCH = 50


@contextmanager
def serve(database_url: str, data_dir: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(SRC),
        "OMNIKANAL_DATABASE_URL": database_url,
        "OMNIKANAL_DATA_DIR": str(data_dir),
        # The killed process's lease lapses quickly, so the restarted one takes over.
        "OMNIKANAL_RESOLVER_LEASE_SECONDS": "2",
    }
    command = [sys.executable, "-m", "omnikanal", "serve", "--host", "127.0.0.1"]
    process = subprocess.Popen(
        [*command, "--port", str(port), "--no-worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, "the server exited"
            try:
                if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the server was not ready in 60 s"
            time.sleep(0.1)
        yield process, url
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=30)


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
        process.wait()
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
