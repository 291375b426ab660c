"""The H&M data (real purchases, store and online) imported as order history: a slice of
the first 10,000 rows of H&M's transactions (one day), mapped as benchmarks/import.py maps
the sample (benchmarks/_hm.py). Skipped when ../shared/data is absent; under CI=true that
fails instead."""

import importlib.util
import os
from pathlib import Path
from types import ModuleType

import pytest
from sqlalchemy import func, select

from omnikanal.catalog import service as catalog_service
from omnikanal.commerce.models import Order, OrderLine
from omnikanal.events.models import Event
from omnikanal.inventory import service as inventory_service
from omnikanal.uow import unit_of_work
from tests.integration.commerce.conftest import Shop
from tests.integration.imports.conftest import Importer

SLICE = "transactions_first10k_rows.csv.gz"
BATCH = 2000


def _hm() -> ModuleType:
    path = Path(__file__).resolve().parents[3] / "benchmarks" / "_hm.py"
    spec = importlib.util.spec_from_file_location("_hm", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hm = _hm()


@pytest.fixture
def purchases() -> list[dict[str, str]]:
    path = hm.sample_dir() / SLICE
    if not path.exists():
        reason = f"the H&M sample is not at {path} (set OMNIKANAL_SHARED_DATA)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI=true: the data tests must run")
        pytest.skip(reason)
    return list(hm.read_csv(path))


def test_the_hm_slice_imports_with_store_and_web_orders(
    shop: Shop, importer: Importer, purchases: list[dict[str, str]]
) -> None:
    rows = hm.order_rows(purchases)
    skus = sorted({row["sku"] for row in rows})
    with unit_of_work(shop.factory) as session:
        inventory_service.upsert_location(
            session,
            code=hm.STORE,
            fields={"name": "H&M store", "kind": "store", "latitude": 59.3, "longitude": 18.1},
        )
        for sku in skus:
            catalog_service.upsert_product(
                session,
                sku=sku,
                fields={
                    "family": sku[:9],
                    "name": f"H&M article {sku}",
                    "category": "fashion",
                    "attributes": {},
                    "image_urls": [],
                    "vat_rate_bp": hm.VAT_BP,
                },
            )
    created = unchanged = 0
    for at in range(0, len(rows), BATCH):
        outcome = importer.apply(rows[at : at + BATCH], first_row=at + 1)
        assert outcome.problems == []
        created += outcome.created
    assert created == len(rows)

    expected_orders = {(row["channel"], row["order_number"]) for row in rows}
    customers = {p["customer_id"] for p in purchases}
    with shop.factory() as session:
        orders = session.scalar(select(func.count()).select_from(Order))
        by_channel = dict(
            session.execute(select(Order.channel, func.count()).group_by(Order.channel)).all()
        )
        units = session.scalar(select(func.sum(OrderLine.quantity)))
        lines = session.scalar(select(func.count()).select_from(OrderLine))
        people = session.scalar(select(func.count(func.distinct(Order.profile_id))))
        completed = session.scalar(
            select(func.count()).select_from(Event).where(Event.name == "Order Completed")
        )
        store_sum = session.scalar(
            select(func.sum(Order.total)).where(Order.channel == "pos", Order.location == hm.STORE)
        )
    assert orders == len(expected_orders) == completed
    assert by_channel == {
        "pos": len({k for k in expected_orders if k[0] == "pos"}),
        "web": len({k for k in expected_orders if k[0] == "web"}),
    }
    assert by_channel["pos"] > 0
    assert lines == len(rows)
    assert units == len(purchases) == 10_000
    assert people == len(customers)
    assert store_sum is not None
    assert store_sum > 0

    again = importer.apply(rows[:BATCH])
    unchanged += again.unchanged
    assert (again.created, unchanged) == (0, min(BATCH, len(rows)))
