"""From a file's columns to hub fields: the column map, then the format.

``hub`` is the documented format of each kind (docs/imports.md): columns named as the hub
fields. ``shopify`` reads Shopify's customer and product CSV exports. The column map
(``E-post=email,Mobil=phone``) renames a file's columns first, so a file with its own
headings reads as either format.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import orjson

HUB = "hub"
SHOPIFY = "shopify"
FORMATS = (HUB, SHOPIFY)
# Kinds Shopify exports a CSV for.
SHOPIFY_KINDS = ("customers", "products")
UNCATEGORISED = "uncategorised"

# A translator turns one row (after the column map) into hub fields; None passes over a
# row that holds no record (a Shopify product's extra image rows).
Translator = Callable[[dict[str, str]], dict[str, str] | None]


class FormatError(ValueError):
    """A format or column map that cannot be used; the message names no row's values."""


def parse_column_map(text: str | None) -> dict[str, str]:
    """``"E-post=email,Mobil=phone"`` -> {"E-post": "email", "Mobil": "phone"}."""
    if not text or not text.strip():
        return {}
    found: dict[str, str] = {}
    for pair in text.split(","):
        column, sep, target = pair.partition("=")
        if not sep or not column.strip() or not target.strip():
            raise FormatError(f"the column map's {pair.strip()!r} is not COLUMN=FIELD")
        found[column.strip()] = target.strip()
    return found


def apply_map(values: Mapping[str, str], column_map: Mapping[str, str]) -> dict[str, str]:
    """Columns renamed by the map; a mapped column replaces one already of that name."""
    renamed: dict[str, str] = {}
    for name, value in values.items():
        target = column_map.get(name, name)
        if target in renamed and name not in column_map:
            continue  # a mapped column wins over a same-named one left as it was
        renamed[target] = value
    return renamed


def _hub(values: dict[str, str]) -> dict[str, str]:
    # The file's columns are the hub's fields; reading stripped them (reading.RawRow).
    return values


def _first(values: Mapping[str, str], *columns: str) -> str:
    """The first non-empty of these columns (Shopify renamed its headings over the years);
    Shopify writes a quote before numbers a spreadsheet would mangle ('+46...)."""
    for column in columns:
        value = values.get(column, "").strip()
        if value:
            return value.removeprefix("'")
    return ""


def _shopify_customer(values: dict[str, str]) -> dict[str, str]:
    found = {
        "external_id": _first(values, "Customer ID", "ID"),
        "email": _first(values, "Email"),
        "phone": _first(values, "Phone", "Default Address Phone"),
        "first_name": _first(values, "First Name"),
        "last_name": _first(values, "Last Name"),
        "address_line1": _first(values, "Default Address Address1", "Address1"),
        "address_line2": _first(values, "Default Address Address2", "Address2"),
        "postcode": _first(values, "Default Address Zip", "Zip"),
        "city": _first(values, "Default Address City", "City"),
        "country": _first(values, "Default Address Country Code", "Country Code"),
        "accepts_email_marketing": _first(values, "Accepts Email Marketing", "Accepts Marketing"),
        "accepts_sms_marketing": _first(values, "Accepts SMS Marketing"),
    }
    return {name: value for name, value in found.items() if value}


@dataclass
class _ShopifyProducts:
    """Shopify writes a product's own fields on its first row only; its other variants'
    rows carry the handle and their own fields. So this remembers the product."""

    handle: str = ""
    product: dict[str, str] = field(default_factory=dict)

    def __call__(self, values: dict[str, str]) -> dict[str, str] | None:
        handle = _first(values, "Handle")
        if handle != self.handle:
            self.handle, self.product = handle, {}
        for column in (
            "Title",
            "Body (HTML)",
            "Vendor",
            "Type",
            "Product Category",
            "Status",
            "Published",
            "Image Src",
            "Option1 Name",
            "Option2 Name",
            "Option3 Name",
        ):
            if _first(values, column) and column not in self.product:
                self.product[column] = _first(values, column)
        options = [
            (self.product.get(f"Option{i} Name", ""), _first(values, f"Option{i} Value"))
            for i in (1, 2, 3)
        ]
        options = [(n, v) for n, v in options if v and v != "Default Title"]
        sku = _first(values, "Variant SKU")
        if not sku and not options:
            return None  # an image row
        return self._product(sku, options, values)

    def _product(
        self, sku: str, options: list[tuple[str, str]], values: Mapping[str, str]
    ) -> dict[str, str]:
        title = self.product.get("Title", "")
        category = self.product.get("Type") or self.product.get("Product Category", "")
        attributes = {(n or "option").strip().lower(): v for n, v in options}
        if self.product.get("Vendor"):
            attributes["vendor"] = self.product["Vendor"]
        status = self.product.get("Status", "").lower()
        active = status == "active" if status else self.product.get("Published", "true")
        found = {
            "sku": sku,
            "name": " / ".join([title, *(v for _, v in options)]) if title else "",
            "family": self.handle,
            "category": category.split(">")[-1].strip() or UNCATEGORISED,
            "description": self.product.get("Body (HTML)", ""),
            "attributes": orjson.dumps(attributes).decode() if attributes else "",
            "image_urls": _first(values, "Variant Image") or self.product.get("Image Src", ""),
            "active": str(active).lower() if isinstance(active, bool) else active,
        }
        return {name: value for name, value in found.items() if value}


def translator(format_: str, kind: str) -> Translator:
    if format_ == HUB:
        return _hub
    if format_ == SHOPIFY and kind == "customers":
        return _shopify_customer
    if format_ == SHOPIFY and kind == "products":
        return _ShopifyProducts()
    if format_ == SHOPIFY:
        raise FormatError(
            f"Shopify's format is for {' and '.join(SHOPIFY_KINDS)}; import {kind} as hub"
        )
    raise FormatError(f"unknown format {format_!r}; one of {', '.join(FORMATS)}")


def check(format_: str, kind: str) -> None:
    """Refuse a format that cannot read this kind before anything is stored."""
    translator(format_, kind)
