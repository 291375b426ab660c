"""Real servers for behaviour only a real server shows: an app served by uvicorn in a
thread (kept-alive connections, concurrency across the event loop), and ``omnikanal``
commands run as processes of their own (kill -9, worker processes, the CLI as shipped)."""

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

# These very sources, whatever the working directory of the process.
SRC = Path(__file__).resolve().parents[1] / "src"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def running(app: FastAPI, *, lifespan: Literal["auto", "on", "off"] = "off") -> Iterator[str]:
    """The app served on loopback; yields its base URL and stops it afterwards."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan=lifespan)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def omnikanal_env(database_url: str, data_dir: Path, **settings: str) -> dict[str, str]:
    """The environment of an ``omnikanal`` process of a test; ``settings`` are more
    ``OMNIKANAL_*`` variables."""
    return {
        **os.environ,
        "PYTHONPATH": str(SRC),
        "OMNIKANAL_DATABASE_URL": database_url,
        "OMNIKANAL_DATA_DIR": str(data_dir),
        **settings,
    }


class OmnikanalProcess:
    """``python -m omnikanal <args>`` with its output in a file."""

    def __init__(self, args: Sequence[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("wb") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "omnikanal", *args],
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def printed(self, text: str) -> bool:
        return text in self.log.read_text(errors="replace")

    def wait_ready(self, base_url: str, *, timeout: float = 60.0) -> None:
        """Until ``/ready`` answers 200; fails with the process's output if it exits."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"the process exited:\n{self.output()}"
            try:
                if httpx.get(f"{base_url}/ready", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        pytest.fail(f"not ready in {timeout:.0f} s:\n{self.output()}")

    def stop(self, *, timeout: float = 15.0) -> None:
        """SIGTERM, then SIGKILL if it has not stopped within ``timeout`` seconds."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextmanager
def omnikanal_process(
    args: Sequence[str], env: dict[str, str], log: Path
) -> Iterator[OmnikanalProcess]:
    """An ``omnikanal`` process, stopped (killed if need be) afterwards."""
    process = OmnikanalProcess(args, env, log)
    try:
        yield process
    finally:
        process.stop()
