"""Checkout under load: the answer never waits for the order's reactions, and several
server processes selling the last units never sell one twice."""

import asyncio
import threading
import time
from pathlib import Path

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from omnikanal.app import create_app
from omnikanal.config import Settings
from omnikanal.outbox.models import DeliveryStatus, OutboxDelivery
from omnikanal.outbox.registry import PublishedEvent
from omnikanal.wiring import build_registry
from tests.integration.commerce.conftest import CARD, COAT, STHLM, Shop, delivery
from tests.server import free_port, omnikanal_env, omnikanal_process, running


def test_a_checkout_answers_while_a_slow_reaction_is_still_running(
    shop: Shop, settings: Settings
) -> None:
    started, release = threading.Event(), threading.Event()

    def slow(_session: Session, _event: PublishedEvent) -> None:
        started.set()
        release.wait(timeout=30)

    registry = build_registry()
    registry.subscribe("order.placed", "test.slow_reaction", slow)
    app = create_app(settings, registry=registry)
    # Read-only: on SQLite the slow reaction holds the write lock meanwhile.
    reader: sessionmaker[Session] = app.state.read_session_factory
    try:
        with running(app) as base_url, httpx.Client(base_url=base_url, timeout=10) as client:
            cart = client.post(
                "/v1/carts",
                json={"currency": "SEK", "anonymous_id": "slow-1", "items": [{"sku": COAT}]},
                headers=shop.web,
            )
            assert cart.status_code == 201, cart.text
            sent = time.monotonic()
            order = client.post(
                f"/v1/carts/{cart.json()['id']}/checkout",
                json={"fulfilment": delivery(), "tenders": CARD},
                headers=shop.web,
            )
            assert order.status_code == 201, order.text
            # Answered, and the reaction began after the answer and is still running.
            assert started.wait(timeout=10)
            assert not release.is_set()
            assert time.monotonic() - sent < 10
            assert _status(reader) == DeliveryStatus.PENDING
            release.set()
            deadline = time.monotonic() + 10
            while _status(reader) != DeliveryStatus.DELIVERED:
                assert time.monotonic() < deadline, "the slow reaction never finished"
                time.sleep(0.05)
    finally:
        release.set()
        app.state.reactions.close()
        app.state.ingest_writer.close()
        app.state.engine.dispose()


def _status(factory: sessionmaker[Session]) -> str | None:
    with factory() as session:
        query = select(OutboxDelivery.status).where(OutboxDelivery.target == "test.slow_reaction")
        return session.scalar(query)


def test_two_server_processes_sell_the_last_units_once(
    shop: Shop, database_url: str, tmp_path: Path
) -> None:
    """Stockholm has 3 coats; 16 till sales at once over two processes (new connections,
    so both take some): 3 are sold, the rest refused, none oversold."""
    port = free_port()
    command = ["serve", "--workers", "2", "--no-worker", "--host", "127.0.0.1"]
    env = omnikanal_env(database_url, tmp_path / "data")
    with omnikanal_process([*command, "--port", str(port)], env, tmp_path / "serve.log") as server:
        base_url = f"http://127.0.0.1:{port}"
        server.wait_ready(base_url)
        answers = asyncio.run(_sell_at_once(base_url, shop, buyers=16))
    sold = [a for a in answers if a[0] == 201]
    refused = [a for a in answers if a[0] == 409]
    assert len(sold) == 3, answers
    assert {code for _, code in refused} == {"insufficient_stock"}
    assert len(sold) + len(refused) == 16
    assert shop.stock(STHLM, COAT) == (0, 0, 0)


async def _sell_at_once(base_url: str, shop: Shop, *, buyers: int) -> list[tuple[int, str]]:
    body = {
        "currency": "SEK",
        "lines": [{"sku": COAT, "quantity": 1}],
        "tenders": [{"type": "cash"}],
    }

    async def sell() -> tuple[int, str]:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            answer = await client.post("/v1/orders", json=body, headers=shop.sthlm)
            return answer.status_code, str(answer.json().get("code"))

    return list(await asyncio.gather(*(sell() for _ in range(buyers))))
