"""The H&M sample as the hub's import formats see it (benchmarks/import.py, and the H&M
data test, which loads this file by its path).

The data is not the project's to ship (see its SOURCE.md): it is read from
``../shared/data/hm-fashion-sample`` beside the repository, or from the folder named by
``OMNIKANAL_SHARED_DATA`` (the ``shared/data`` folder itself).

The mapping, chosen here and documented in docs/imports-orders.md:

- a customer's purchases on one day on one channel are one order; its number is the day
  and the first 16 characters of the customer id (``20180920-1a674938eb6b4f9b``); H&M
  gives dates, not times, so every order is placed at 12:00 UTC that day
- ``sales_channel_id`` 1 is a till sale at the store ``hm-store-1`` (channel ``pos``),
  2 is an online order (``web``)
- the customer is named by ``external_id`` = H&M's customer id
- a repeated row is one more unit of the item: the line's quantity is the count and its
  unit price the mean of the rows' prices
- price: H&M's normalised price × 590 is the price in SEK (0.0508305… × 590 = 29.99),
  rounded to öre; the prices then end in .99 as H&M's Swedish prices do
"""

import csv
import gzip
import os
from collections.abc import Iterable, Iterator
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

SAMPLE = "hm-fashion-sample"
STORE = "hm-store-1"
CURRENCY = "SEK"
SEK_PER_PRICE_UNIT = Decimal(590)
VAT_BP = 2500  # Swedish VAT on clothes: 25 %
CHANNELS = {"1": "pos", "2": "web"}


def shared_data() -> Path:
    configured = os.environ.get("OMNIKANAL_SHARED_DATA")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def sample_dir() -> Path:
    return shared_data() / SAMPLE


def read_csv(path: Path) -> Iterator[dict[str, str]]:
    with gzip.open(path, "rt", encoding="utf-8", newline="") as file:
        yield from csv.DictReader(file)


def sku(article_id: str) -> str:
    """H&M's article id, zero-padded to 10 digits (the first10k file drops the zero)."""
    return f"HM-{article_id.strip().zfill(10)}"


def sek(prices: list[str]) -> str:
    mean = sum((Decimal(p) for p in prices), Decimal(0)) / len(prices)
    return str((mean * SEK_PER_PRICE_UNIT).quantize(Decimal("0.01"), ROUND_HALF_EVEN))


def order_rows(transactions: Iterable[dict[str, str]]) -> list[dict[str, str]]:
    """The purchases as rows of the orders hub format, an order's lines together, orders
    in the order of their first purchase in the file."""
    orders: dict[tuple[str, str, str], dict[str, list[str]]] = {}
    for purchase in transactions:
        key = (purchase["customer_id"], purchase["t_dat"], purchase["sales_channel_id"])
        orders.setdefault(key, {}).setdefault(sku(purchase["article_id"]), []).append(
            purchase["price"]
        )
    rows: list[dict[str, str]] = []
    for (customer, day, channel_id), lines in orders.items():
        channel = CHANNELS[channel_id]
        for item, prices in lines.items():
            rows.append(
                {
                    "order_number": f"{day.replace('-', '')}-{customer[:16]}",
                    "channel": channel,
                    "location": STORE if channel == "pos" else "",
                    "ordered_at": f"{day}T12:00:00+00:00",
                    "external_id": customer,
                    "sku": item,
                    "quantity": str(len(prices)),
                    "unit_price": sek(prices),
                    "currency": CURRENCY,
                }
            )
    return rows


def article_names(articles: Iterable[dict[str, str]]) -> dict[str, tuple[str, str]]:
    """SKU -> (name, category) where the partial article metadata has them."""
    return {
        sku(a["article_id"]): (a["prod_name"] or "H&M article", a["product_group_name"] or "")
        for a in articles
    }
