"""The products kind: one row per SKU (a variant), its one description for every channel.

Hub fields: sku (required; the natural key), name and category (required for a new SKU),
family (default: the SKU), description, vat_rate (percent, default 25), attributes (a JSON
object of texts) and ``attribute.<name>`` columns, image_urls (separated by spaces),
active (true/false). A field left out keeps what an existing product has.
"""

import re
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from sqlalchemy.orm import Session

from omnikanal.catalog import service as catalog_service
from omnikanal.imports import values
from omnikanal.imports._outcome import count
from omnikanal.imports.kinds import BatchOutcome, FirstRows, ImportOptions, RowProblem
from omnikanal.imports.values import BadValue

SKU = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
ATTRIBUTE_PREFIX = "attribute."
MAX_IMAGES = 20


def sku(value: str) -> str:
    cleaned = value.strip()
    if not SKU.match(cleaned):
        raise BadValue("not a SKU (1 to 64 of A-Z, a-z, 0-9, '.', '_', '-')")
    return cleaned


def _attributes(value: str) -> dict[str, str]:
    try:
        parsed = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise BadValue("not a JSON object") from exc
    if not isinstance(parsed, dict):
        raise BadValue("not a JSON object")
    found: dict[str, str] = {}
    for name, raw in parsed.items():
        if isinstance(raw, dict | list) or raw is None:
            raise BadValue("holds a value that is not text or a number")
        found[str(name)[:100]] = values.text(str(raw), max_length=200)
    return found


def _images(value: str) -> list[str]:
    urls = value.split()
    if len(urls) > MAX_IMAGES:
        raise BadValue(f"more than {MAX_IMAGES} images")
    for url in urls:
        if not url.startswith(("http://", "https://")) or len(url) > 2000:
            raise BadValue("holds something that is not an http(s) URL")
    return urls


PARSERS: dict[str, tuple[str, Any]] = {
    "name": ("name", lambda v: values.text(v, max_length=200)),
    "family": ("family", lambda v: values.text(v, max_length=64)),
    "category": ("category", lambda v: values.text(v, max_length=100)),
    "description": ("description", lambda v: values.text(v, max_length=20_000)),
    "vat_rate": ("vat_rate_bp", values.percent_bp),
    "attributes": ("attributes", _attributes),
    "image_urls": ("image_urls", _images),
    "active": ("active", values.boolean),
}


def _read(
    number: int, fields: Mapping[str, str]
) -> tuple[str | None, dict[str, Any], list[RowProblem]]:
    problems: list[RowProblem] = []
    found_sku: str | None = None
    raw_sku = (fields.get("sku") or "").strip()
    if not raw_sku:
        problems.append(RowProblem(number, "sku", "required"))
    else:
        try:
            found_sku = sku(raw_sku)
        except BadValue as exc:
            problems.append(RowProblem(number, "sku", str(exc)))
    product: dict[str, Any] = {}
    for field, (column, parse) in PARSERS.items():
        raw = (fields.get(field) or "").strip()
        if not raw:
            continue
        try:
            product[column] = parse(raw)
        except BadValue as exc:
            problems.append(RowProblem(number, field, str(exc)))
    extra = {
        name.removeprefix(ATTRIBUTE_PREFIX): raw.strip()
        for name, raw in fields.items()
        if name.startswith(ATTRIBUTE_PREFIX) and raw.strip()
    }
    for name, raw in extra.items():
        try:
            product.setdefault("attributes", {})[name[:100]] = values.text(raw, max_length=200)
        except BadValue as exc:
            problems.append(RowProblem(number, f"{ATTRIBUTE_PREFIX}{name}", str(exc)))
    return found_sku, product, problems


class ProductsKind:
    name = "products"
    fields = frozenset({"sku", *PARSERS})
    field_prefixes: tuple[str, ...] = (ATTRIBUTE_PREFIX,)

    def apply(
        self,
        session: Session,
        rows: Sequence[tuple[int, Mapping[str, str]]],
        *,
        options: ImportOptions,
    ) -> BatchOutcome:
        outcome = BatchOutcome()
        good: list[tuple[int, str, dict[str, Any]]] = []
        named = FirstRows("product")
        for number, fields in rows:
            found_sku, product, problems = _read(number, fields)
            if problems or found_sku is None:
                outcome.problems.extend(problems)
            elif repeated := named.repeated(number, [("sku", found_sku)]):
                outcome.problems.append(repeated)
            else:
                good.append((number, found_sku, product))
        results = catalog_service.import_products(
            session, products=[(s, product) for _, s, product in good]
        )
        for (number, _, _), result in zip(good, results, strict=True):
            count(outcome, number, result.status, result.field, result.reason)
        return outcome


PRODUCTS = ProductsKind()
