"""The prices kind: the price book. Hub fields: sku, amount (a decimal in the currency's
major unit: 499.00 SEK), currency (ISO 4217), valid_from (ISO 8601 with zone, or a date:
midnight UTC; default now). Natural key: (sku, currency, valid_from)."""

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from omnikanal.catalog import service as catalog_service
from omnikanal.imports import values
from omnikanal.imports._outcome import count
from omnikanal.imports.kinds import BatchOutcome, FirstRows, ImportOptions, RowProblem
from omnikanal.imports.products import sku
from omnikanal.imports.values import BadValue


def _read(
    number: int, fields: Mapping[str, str]
) -> tuple[catalog_service.PriceGiven | None, list[RowProblem]]:
    problems: list[RowProblem] = []

    def given(field: str) -> str:
        raw = (fields.get(field) or "").strip()
        if not raw and field != "valid_from":
            problems.append(RowProblem(number, field, "required"))
        return raw

    def bad(field: str, exc: BadValue) -> None:
        problems.append(RowProblem(number, field, str(exc)))

    raw_sku, raw_currency, raw_amount = given("sku"), given("currency"), given("amount")
    raw_valid_from = given("valid_from")
    found_sku = currency = None
    amount = None
    valid_from: datetime | None = None
    try:
        found_sku = sku(raw_sku) if raw_sku else None
    except BadValue as exc:
        bad("sku", exc)
    try:
        currency = values.currency(raw_currency) if raw_currency else None
    except BadValue as exc:
        bad("currency", exc)
    try:
        amount = values.minor_units(raw_amount, currency) if raw_amount and currency else None
    except BadValue as exc:
        bad("amount", exc)
    try:
        valid_from = values.moment(raw_valid_from) if raw_valid_from else None
    except BadValue as exc:
        bad("valid_from", exc)
    if problems or found_sku is None or currency is None or amount is None:
        return None, problems
    price = catalog_service.PriceGiven(
        sku=found_sku, currency=currency, amount=amount, valid_from=valid_from
    )
    return price, []


def _key(price: catalog_service.PriceGiven) -> tuple[str, str, datetime | None]:
    """What names one price of the price book: its SKU, currency and start."""
    return (price.sku, price.currency, price.valid_from)


class PricesKind:
    name = "prices"
    fields = frozenset({"sku", "amount", "currency", "valid_from"})
    field_prefixes: tuple[str, ...] = ()

    def apply(
        self,
        session: Session,
        rows: Sequence[tuple[int, Mapping[str, str]]],
        *,
        options: ImportOptions,
    ) -> BatchOutcome:
        outcome = BatchOutcome()
        good: list[tuple[int, catalog_service.PriceGiven]] = []
        named = FirstRows("price")
        for number, fields in rows:
            given, problems = _read(number, fields)
            if given is None:
                outcome.problems.extend(problems)
            elif repeated := named.repeated(number, [("sku", _key(given))]):
                outcome.problems.append(repeated)
            else:
                good.append((number, given))
        results = catalog_service.import_prices(session, prices=[g for _, g in good])
        for (number, _), result in zip(good, results, strict=True):
            count(outcome, number, result.status, result.field, result.reason)
        return outcome


PRICES = PricesKind()
