"""Round trips on the order path (PostgreSQL): each statement is one, so their number is
what a checkout waits for. Counted by the server (``Omnikanal-Statements``)."""

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from omnikanal.app import create_app
from omnikanal.config import Settings
from tests.integration.commerce.conftest import CARD, COAT, GBG, SCARF, Shop, delivery


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path,
        embedded_worker=False,
        nats_url=None,
        count_statements=True,
    )


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    application = create_app(settings)
    yield application
    application.state.reactions.close()
    application.state.ingest_writer.close()
    application.state.engine.dispose()


def _statements(client: TestClient, path: str, body: object, headers: dict[str, str]) -> int:
    answer = client.post(path, json=body, headers={**headers, "Idempotency-Key": uuid.uuid4().hex})
    assert answer.status_code in (200, 201), answer.text
    return int(answer.headers["Omnikanal-Statements"])


def test_a_returning_shoppers_purchase_and_a_till_sale_in_few_statements(
    shop: Shop, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite's count includes its local BEGIN and PRAGMA statements")
    client = shop.client
    items = [{"sku": COAT, "quantity": 1}, {"sku": SCARF, "quantity": 1}]
    cart = {"currency": "SEK", "anonymous_id": "counted-1", "items": items}
    # The first purchase makes the person and fills the catalog cache.
    first = client.post("/v1/carts", json=cart, headers=shop.web).json()
    _statements(
        client,
        f"/v1/carts/{first['id']}/checkout",
        {"fulfilment": delivery(), "tenders": CARD},
        shop.web,
    )
    opened = client.post("/v1/carts", json=cart, headers=shop.web)
    assert int(opened.headers["Omnikanal-Statements"]) <= 15
    again = client.post("/v1/carts", json={**cart, "items": items[:1]}, headers=shop.web)
    assert int(again.headers["Omnikanal-Statements"]) <= 12  # the cart exists
    pickup = {"fulfilment": {"type": "click_and_collect", "location": GBG}, "tenders": CARD}
    # Each sale includes one look-up by the order number index: a drawn number an order
    # already has is drawn again (40 random bits repeat about once in a million orders).
    assert _statements(client, f"/v1/carts/{opened.json()['id']}/checkout", pickup, shop.web) <= 18
    till = {"currency": "SEK", "lines": items[:1], "tenders": [{"type": "cash"}]}
    assert _statements(client, "/v1/orders", till, shop.sthlm) <= 13
