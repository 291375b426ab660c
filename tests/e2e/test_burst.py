"""A burst of buyers larger than the connection pool, against a real server: every one
gets an answer, quickly, and the last units are sold once (S7).

Each request holds its database connection across several worker-thread hops; without
admission control, a burst past the pool filled every thread with requests waiting for a
connection and the server stood still until the pool timed out."""

import asyncio
import time

import httpx
from sqlalchemy.orm import Session, sessionmaker

from omnikanal.auth.models import Role
from omnikanal.uow import unit_of_work
from tests.factories import bearer, create_secret_key
from tests.integration.commerce.conftest import COAT, STHLM, _catalog, _locations

BUYERS = 90  # past both pools (SQLite 16, PostgreSQL 30 connections) and the 40 threads


def test_a_burst_past_the_pool_is_answered_and_sells_the_last_units_once(
    live_server: str, session_factory: sessionmaker[Session]
) -> None:
    with unit_of_work(session_factory) as session:
        _catalog(session)
        _locations(session)  # Stockholm has 3 coats
    till = bearer(create_secret_key(session_factory, role=Role.STORE, location=STHLM))
    sale = {
        "currency": "SEK",
        "lines": [{"sku": COAT, "quantity": 1}],
        "tenders": [{"type": "card"}],
    }

    async def burst() -> list[int]:
        limits = httpx.Limits(max_connections=BUYERS)
        async with httpx.AsyncClient(base_url=live_server, timeout=25, limits=limits) as client:
            answers = await asyncio.gather(
                *(client.post("/v1/orders", json=sale, headers=till) for _ in range(BUYERS))
            )
        return [answer.status_code for answer in answers]

    started = time.monotonic()
    statuses = asyncio.run(burst())
    elapsed = time.monotonic() - started
    assert sorted(statuses) == [201] * 3 + [409] * (BUYERS - 3)
    assert elapsed < 20, f"{BUYERS} till sales took {elapsed:.1f} s"
