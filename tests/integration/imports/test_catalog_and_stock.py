"""S15: products, prices and stock from an ERP's or a warehouse's files, and Shopify's
product export; the same file twice changes nothing."""

from typing import Any

from sqlalchemy import func, select

from omnikanal.inventory.models import Adjustment
from tests.integration.imports.conftest import Hub, csv_text

PRODUCTS = ("sku", "name", "category", "family", "vat_rate", "attribute.size", "image_urls")
COATS = [
    ("COAT-38", "Wool coat 38", "coats", "COAT", "25", "38", "https://img.example.com/c.jpg"),
    ("COAT-40", "Wool coat 40", "coats", "COAT", "25", "40", ""),
    ("BOOK-1", "A book", "books", "", "6", "", ""),
]


def counts(job: dict[str, Any]) -> tuple[int, int, int, int, int]:
    c = job["counts"]
    return (c["read"], c["created"], c["updated"], c["unchanged"], c["failed"])


def product(hub: Hub, sku: str) -> dict[str, Any]:
    return dict(hub.ok(hub.client.get(f"/v1/products/{sku}", headers=hub.admin)))


def test_products_import_and_a_second_run_changes_nothing(hub: Hub) -> None:
    path = hub.file("products.csv", csv_text(PRODUCTS, COATS))
    job = hub.imported("products", str(path))
    assert counts(job) == (3, 3, 0, 0, 0)
    assert job["ignored_columns"] == []
    coat = product(hub, "COAT-38")
    assert coat["name"] == "Wool coat 38"
    assert coat["family"] == "COAT"
    assert coat["attributes"] == {"size": "38"}
    assert coat["vat_rate_bp"] == 2500
    assert coat["image_urls"] == ["https://img.example.com/c.jpg"]
    book = product(hub, "BOOK-1")
    assert book["family"] == "BOOK-1"
    assert book["vat_rate_bp"] == 600
    assert counts(hub.imported("products", str(path))) == (3, 0, 0, 3, 0)

    # A file of names only: the names change, what it leaves out is kept.
    renamed = hub.file("names.csv", csv_text(("sku", "name"), [("COAT-38", "Grey wool coat 38")]))
    assert counts(hub.imported("products", str(renamed))) == (1, 0, 1, 0, 0)
    coat = product(hub, "COAT-38")
    assert coat["name"] == "Grey wool coat 38"
    assert coat["attributes"] == {"size": "38"}


def test_bad_product_rows_are_reported_and_the_rest_land(hub: Hub) -> None:
    rows = [
        ("COAT-38", "Wool coat 38", "coats", "", "25", "38", ""),
        ("bad sku!", "Broken", "coats", "", "25", "", ""),
        ("NEW-1", "", "", "", "", "", ""),
        ("HAT-1", "Hat", "hats", "", "250", "", "ftp://img"),
    ]
    job = hub.imported("products", str(hub.file("p.csv", csv_text(PRODUCTS, rows))), code=2)
    assert counts(job) == (4, 1, 0, 0, 3)
    assert [(e["row"], e["field"]) for e in hub.errors(job["id"])] == [
        ("2", "sku"),
        ("3", "name"),
        ("4", "image_urls"),
        ("4", "vat_rate"),
    ]


SHOPIFY_PRODUCTS = (
    "Handle",
    "Title",
    "Body (HTML)",
    "Vendor",
    "Product Category",
    "Type",
    "Tags",
    "Published",
    "Option1 Name",
    "Option1 Value",
    "Option2 Name",
    "Option2 Value",
    "Variant SKU",
    "Variant Price",
    "Image Src",
    "Variant Image",
    "Status",
)


def test_shopify_product_exports_import_each_variant(hub: Hub) -> None:
    rows = [
        (
            "wool-coat",
            "Wool coat",
            "<p>Warm.</p>",
            "Nordvik",
            "Apparel & Accessories > Clothing > Outerwear",
            "Coats",
            "winter",
            "true",
            "Size",
            "38",
            "Colour",
            "Grey",
            "WC-38-GREY",
            "1999.00",
            "https://cdn.example.com/coat.jpg",
            "",
            "active",
        ),
        ("wool-coat", *[""] * 8, "40", "", "Grey", "WC-40-GREY", "1999.00", "", "", ""),
        ("wool-coat", *[""] * 12, "", "https://cdn.example.com/coat-back.jpg", "", ""),
        (
            "gift-card",
            "Gift card",
            "",
            "Nordvik",
            "",
            "",
            "",
            "true",
            "Title",
            "Default Title",
            "",
            "",
            "GIFT-1",
            "500.00",
            "",
            "",
            "draft",
        ),
    ]
    path = hub.file("products_export.csv", csv_text(SHOPIFY_PRODUCTS, rows))
    job = hub.imported("products", str(path), "--format", "shopify")
    assert counts(job) == (4, 3, 0, 0, 0)
    assert job["counts"]["skipped"] == 1  # the image row
    big = product(hub, "WC-40-GREY")
    assert big["name"] == "Wool coat / 40 / Grey"
    assert big["family"] == "wool-coat"
    assert big["category"] == "Coats"
    assert big["description"] == "<p>Warm.</p>"
    assert big["attributes"] == {"size": "40", "colour": "Grey", "vendor": "Nordvik"}
    assert big["image_urls"] == ["https://cdn.example.com/coat.jpg"]
    gift = product(hub, "GIFT-1")
    assert gift["name"] == "Gift card"
    assert gift["active"] is False
    assert counts(hub.imported("products", str(path), "--format", "shopify")) == (4, 0, 0, 3, 0)


def test_prices_import_into_the_price_book(hub: Hub) -> None:
    hub.imported("products", str(hub.file("p.csv", csv_text(PRODUCTS, COATS))))
    header = ("sku", "amount", "currency", "valid_from")
    rows = [
        ("COAT-38", "1999.00", "SEK", ""),
        ("COAT-40", "1 999,50", "sek", "2026-01-01"),
        ("COAT-40", "180", "EUR", "2026-01-01T00:00:00+01:00"),
        ("BOOK-1", "199", "JPY", ""),
        ("NOPE-1", "10", "SEK", ""),
        ("BOOK-1", "1.999", "SEK", ""),
        ("BOOK-1", "12", "SEKK", ""),
        ("BOOK-1", "12", "SKE", ""),  # the shape of a code, not one ISO 4217 has
        ("BOOK-1", "", "SEK", "yesterday"),
    ]
    path = hub.file("prices.csv", csv_text(header, rows))
    job = hub.imported("prices", str(path), code=2)
    assert counts(job) == (9, 4, 0, 0, 5)
    assert job["ignored_columns"] == []
    assert [(e["row"], e["field"], e["reason"]) for e in hub.errors(job["id"])][2:4] == [
        ("7", "currency", "not an ISO 4217 currency code"),
        ("8", "currency", "not an ISO 4217 currency code"),
    ]
    assert [(e["row"], e["field"]) for e in hub.errors(job["id"])] == [
        ("5", "sku"),
        ("6", "amount"),
        ("7", "currency"),
        ("8", "currency"),
        ("9", "amount"),
        ("9", "valid_from"),
    ]
    prices = {(p["currency"], p["amount"]) for p in product(hub, "COAT-40")["prices"]}
    assert prices == {("SEK", 199950), ("EUR", 18000)}
    assert {(p["currency"], p["amount"]) for p in product(hub, "BOOK-1")["prices"]} == {
        ("JPY", 199)
    }
    again = hub.imported("prices", str(path), code=2)
    assert counts(again) == (9, 0, 0, 4, 5)

    new_price = hub.file("new.csv", csv_text(header, [("COAT-38", "1499", "SEK", "")]))
    assert counts(hub.imported("prices", str(new_price))) == (1, 0, 1, 0, 0)
    assert {(p["currency"], p["amount"]) for p in product(hub, "COAT-38")["prices"]} == {
        ("SEK", 149900)
    }


def test_stock_levels_are_set_through_inventory_as_import_adjustments(hub: Hub) -> None:
    hub.imported("products", str(hub.file("p.csv", csv_text(PRODUCTS, COATS))))
    hub.add_location("sthlm")
    hub.add_location("wh", kind="warehouse")
    header = ("location", "sku", "on_hand")
    rows = [
        ("sthlm", "COAT-38", "5"),
        ("", "COAT-40", "12"),
        ("nowhere", "COAT-38", "1"),
        ("sthlm", "NOPE-1", "1"),
        ("sthlm", "BOOK-1", "-3"),
    ]
    path = hub.file("stock.csv", csv_text(header, rows))
    job = hub.imported("stock", str(path), "--location", "wh", code=2)
    assert counts(job) == (5, 2, 0, 0, 3)
    assert job["ignored_columns"] == []
    assert [(e["row"], e["field"]) for e in hub.errors(job["id"])] == [
        ("3", "location"),
        ("4", "sku"),
        ("5", "on_hand"),
    ]
    detail = hub.ok(hub.client.get("/v1/inventory/wh/COAT-40", headers=hub.admin))
    assert detail["on_hand"] == 12
    assert [(a["quantity"], a["reason"]) for a in detail["adjustments"]] == [(12, "import")]
    assert counts(hub.imported("stock", str(path), "--location", "wh", code=2)) == (5, 0, 0, 2, 3)

    counted = hub.file("count.csv", csv_text(header, [("sthlm", "COAT-38", "2")]))
    assert counts(hub.imported("stock", str(counted))) == (1, 0, 1, 0, 0)
    detail = hub.ok(hub.client.get("/v1/inventory/sthlm/COAT-38", headers=hub.admin))
    assert detail["on_hand"] == 2
    assert [(a["quantity"], a["reason"]) for a in detail["adjustments"]] == [
        (-3, "import"),
        (5, "import"),
    ]
    with hub.factory() as session:
        assert session.scalar(select(func.count()).select_from(Adjustment)) == 3


def test_a_key_given_twice_in_a_file_is_refused_the_second_time(hub: Hub) -> None:
    """A SKU, a price or a stock level on two rows of one file: the later row is reported,
    so a second run of the file changes nothing (applied, the two rows would overwrite
    each other in turn, run after run)."""
    twice = [COATS[0], (*COATS[0][:1], "Wool coat, 38", *COATS[0][2:])]
    products = hub.file("p.csv", csv_text(PRODUCTS, twice))
    assert counts(hub.imported("products", str(products), code=2)) == (2, 1, 0, 0, 1)
    assert counts(hub.imported("products", str(products), code=2)) == (2, 0, 0, 1, 1)
    assert product(hub, "COAT-38")["name"] == "Wool coat 38"

    header = ("sku", "amount", "currency", "valid_from")
    rows = [("COAT-38", "1999", "SEK", "2026-01-01"), ("COAT-38", "1499", "SEK", "2026-01-01")]
    prices = hub.file("prices.csv", csv_text(header, rows))
    job = hub.imported("prices", str(prices), code=2)
    assert counts(job) == (2, 1, 0, 0, 1)
    assert [(e["row"], e["field"], e["reason"]) for e in hub.errors(job["id"])] == [
        ("2", "sku", "names the price of row 1 again: one row per price")
    ]
    assert counts(hub.imported("prices", str(prices), code=2)) == (2, 0, 0, 1, 1)
    assert [p["amount"] for p in product(hub, "COAT-38")["prices"]] == [199900]

    hub.add_location("sthlm")
    levels = [("sthlm", "COAT-38", "5"), ("sthlm", "COAT-38", "7")]
    stock = hub.file("stock.csv", csv_text(("location", "sku", "on_hand"), levels))
    assert counts(hub.imported("stock", str(stock), code=2)) == (2, 1, 0, 0, 1)
    assert counts(hub.imported("stock", str(stock), code=2)) == (2, 0, 0, 1, 1)
    with hub.factory() as session:
        assert session.scalar(select(func.count()).select_from(Adjustment)) == 1
