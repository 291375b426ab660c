"""``omnikanal serve --workers 2``: a real process with two uvicorn workers on one port."""

import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.factories import bearer, create_secret_key
from tests.server import OmnikanalProcess, free_port, omnikanal_env, omnikanal_process


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def served(database_url: str, tmp_path: Path) -> Iterator[tuple[OmnikanalProcess, str]]:
    port = free_port()
    command = ["serve", "--workers", "2", "--host", "127.0.0.1", "--port", str(port)]
    env = omnikanal_env(database_url, tmp_path / "data")
    with omnikanal_process(command, env, tmp_path / "serve.log") as process:
        base_url = f"http://127.0.0.1:{port}"
        process.wait_ready(base_url)
        yield process, base_url


def test_two_worker_processes_serve_one_port_and_stop_on_sigterm(
    served: tuple[OmnikanalProcess, str], session_factory: sessionmaker[Session]
) -> None:
    server, base_url = served
    process, log = server.process, server.log
    admin = bearer(create_secret_key(session_factory))
    for _ in range(6):
        # A new connection each time, so either worker may take it.
        assert httpx.get(f"{base_url}/ready", timeout=5).status_code == 200
        sources = httpx.get(f"{base_url}/v1/sources", headers=admin, timeout=5)
        assert sources.status_code == 200, sources.text
    workers = [int(pid) for pid in re.findall(r"Started server process \[(\d+)\]", log.read_text())]
    assert len(workers) == 2, log.read_text()
    assert all(_alive(pid) for pid in workers)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0, log.read_text()[-3000:]
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in workers)
    assert "Traceback" not in log.read_text()
