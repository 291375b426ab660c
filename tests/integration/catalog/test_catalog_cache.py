"""The catalog in memory: each process keeps products, prices and promotions, and sees
another process's change at once (the version written with the change)."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from omnikanal.app import create_app
from omnikanal.config import Settings
from tests.factories import bearer, create_secret_key

COAT = {"family": "COAT", "name": "Wool coat", "category": "coats", "vat_rate_bp": 2500}


@pytest.fixture
def other_app(settings: Settings) -> Iterator[FastAPI]:
    """A second app on the same database: its own engine, pool and catalog in memory, as
    a second ``serve`` process has."""
    application = create_app(settings)
    yield application
    application.state.ingest_writer.close()
    application.state.engine.dispose()


def unit_price(client: TestClient, headers: dict[str, str], channel: str = "web") -> int:
    answer = client.get(
        "/v1/products/COAT-38/price",
        params={"channel": channel, "currency": "SEK"},
        headers=headers,
    )
    assert answer.status_code == 200, answer.text
    amount: int = answer.json()["unit_price"]
    return amount


def test_a_catalog_change_in_one_process_is_seen_by_another_at_once(
    client: TestClient, other_app: FastAPI, session_factory: sessionmaker[Session]
) -> None:
    admin = bearer(create_secret_key(session_factory))
    other = TestClient(other_app, raise_server_exceptions=False)
    assert client.put("/v1/products/COAT-38", json=COAT, headers=admin).status_code == 201
    price = {"currency": "SEK", "amount": 249_900}
    assert client.post("/v1/products/COAT-38/prices", json=price, headers=admin).status_code == 201
    assert unit_price(other, admin) == 249_900

    # The other process now answers from memory: one read of the version, no catalog row.
    statements: list[str] = []
    engine = other_app.state.engine
    listen = event.listen
    listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    assert unit_price(other, admin) == 249_900
    catalog_reads = [s for s in statements if "catalog_" in s and "catalog_version" not in s]
    assert catalog_reads == []

    # A new price, a promotion on the web only: seen by the other process at once.
    price = {"currency": "SEK", "amount": 199_900}
    assert client.post("/v1/products/COAT-38/prices", json=price, headers=admin).status_code == 201
    assert unit_price(other, admin) == 199_900
    now = datetime.now(UTC)
    promotion = {
        "code": "WEB-COATS",
        "name": "Coats online",
        "kind": "percent",
        "value": 1000,
        "categories": ["coats"],
        "channels": ["web"],
        "starts_at": (now - timedelta(minutes=1)).isoformat(),
        "ends_at": (now + timedelta(days=1)).isoformat(),
    }
    assert client.post("/v1/promotions", json=promotion, headers=admin).status_code == 201
    assert unit_price(other, admin, "web") == 179_910
    assert unit_price(other, admin, "pos") == 199_900
