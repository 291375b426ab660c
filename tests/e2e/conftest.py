"""A real server on loopback and the system Chromium driven by Playwright."""

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import rudderstack.analytics.request
import segment.analytics.request
from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from omnikanal.events.dependencies import POSITION_HEADER
from tests.reading import wait_until_resolved
from tests.server import running

CHROMIUM = Path(os.environ.get("OMNIKANAL_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def live_server(app: FastAPI) -> Iterator[str]:
    # With the app's lifespan: the resolver starts and finishes what is appended.
    with running(app, lifespan="auto") as base_url:
        yield base_url


@pytest.fixture(autouse=True)
def clients_read_their_writes(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Against a real server, Segment's and RudderStack's clients return once the server's
    resolver has passed the position their upload was given (``Omnikanal-Position``), as a
    client that reads right after writing waits for it."""
    if "live_server" not in request.fixturenames:
        return
    factory: sessionmaker[Session] = request.getfixturevalue("session_factory")
    for session in (segment.analytics.request._session, rudderstack.analytics.request._session):
        monkeypatch.setattr(session, "post", _waiting(session.post, factory))


def _waiting(post: Any, factory: sessionmaker[Session]) -> Any:
    def waiting_post(url: str, **kwargs: Any) -> Any:
        response = post(url, **kwargs)
        position = response.headers.get(POSITION_HEADER)
        if position is not None:
            wait_until_resolved(factory, int(position))
        return response

    return waiting_post


# Module scope: Playwright's sync API keeps an event loop running while it is open, which
# other tests' asyncio.run() calls must not meet.
@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        reason = f"no Chromium at {CHROMIUM} (install Debian's chromium package)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI=true: browser tests must run")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()
