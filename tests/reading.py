"""Clients that read their own writes, as a client passing the ingest answer's position
to its next read does: after each ingest answer they wait until ``Omnikanal-Position``
is resolved, driving the app's resolver until then (deterministic, whatever its thread
is doing)."""

import time
from collections.abc import Callable

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from omnikanal.events import service
from omnikanal.events.dependencies import POSITION_HEADER


def read_your_writes(app: FastAPI) -> Callable[[httpx.Response], None]:
    def wait_for_resolution(response: httpx.Response) -> None:
        position = response.headers.get(POSITION_HEADER)
        if position is not None:
            app.state.resolver.resolve_through(int(position))

    return wait_for_resolution


def reading_client(app: FastAPI, *, raise_server_exceptions: bool = True) -> TestClient:
    client = TestClient(app, raise_server_exceptions=raise_server_exceptions)
    client.event_hooks = {"response": [read_your_writes(app)]}
    return client


def wait_until_resolved(
    factory: sessionmaker[Session], position: int, *, timeout: float = 15.0
) -> None:
    """Poll, bounded, until a real server's resolver has passed ``position``."""
    deadline = time.monotonic() + timeout
    while True:
        with factory() as session:
            if service.is_resolved(session, position=position):
                return
        assert time.monotonic() < deadline, f"position {position} unresolved after {timeout} s"
        time.sleep(0.02)
