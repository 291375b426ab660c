"""``omnikanal serve --workers 2``: a real process with two uvicorn workers on one port."""

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

import omnikanal
from tests.factories import bearer, create_secret_key
from tests.server import free_port


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait_ready(process: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, f"serve exited:\n{log.read_text()[-3000:]}"
        try:
            if httpx.get(f"{base_url}/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail(f"serve was not ready in 60 s:\n{log.read_text()[-3000:]}")


@pytest.fixture
def served(
    database_url: str, tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[bytes], str, Path]]:
    port = free_port()
    env = {
        **os.environ,
        "OMNIKANAL_DATABASE_URL": database_url,
        "OMNIKANAL_DATA_DIR": str(tmp_path / "data"),
        # These very sources, whatever the working directory.
        "PYTHONPATH": str(Path(omnikanal.__file__).parents[1]),
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "omnikanal", "serve", "--workers", "2"]
            + ["--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        base_url = f"http://127.0.0.1:{port}"
        _wait_ready(process, base_url, log)
        yield process, base_url, log
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_two_worker_processes_serve_one_port_and_stop_on_sigterm(
    served: tuple[subprocess.Popen[bytes], str, Path], session_factory: sessionmaker[Session]
) -> None:
    process, base_url, log = served
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
