"""The stock kind: on hand per location and SKU, set through inventory and recorded as an
adjustment with reason ``import``. Hub fields: location (a location's code; default
``--location``), sku, on_hand (a whole number). Natural key: (location, sku)."""

from collections.abc import Mapping, Sequence

from sqlalchemy.orm import Session

from omnikanal.imports import values
from omnikanal.imports._outcome import count
from omnikanal.imports.kinds import BatchOutcome, FirstRows, ImportOptions, RowProblem
from omnikanal.imports.products import sku
from omnikanal.imports.values import BadValue
from omnikanal.inventory import service as inventory_service

ACTOR = "import"


def _read(
    number: int, fields: Mapping[str, str], default_location: str | None
) -> tuple[tuple[str, str, int] | None, list[RowProblem]]:
    problems: list[RowProblem] = []
    location = (fields.get("location") or "").strip() or default_location
    if not location:
        problems.append(RowProblem(number, "location", "required (or give --location)"))
    raw_sku = (fields.get("sku") or "").strip()
    raw_on_hand = (fields.get("on_hand") or "").strip()
    found_sku: str | None = None
    on_hand: int | None = None
    if not raw_sku:
        problems.append(RowProblem(number, "sku", "required"))
    else:
        try:
            found_sku = sku(raw_sku)
        except BadValue as exc:
            problems.append(RowProblem(number, "sku", str(exc)))
    if not raw_on_hand:
        problems.append(RowProblem(number, "on_hand", "required"))
    else:
        try:
            on_hand = values.count(raw_on_hand)
        except BadValue as exc:
            problems.append(RowProblem(number, "on_hand", str(exc)))
    if problems or location is None or found_sku is None or on_hand is None:
        return None, problems
    return (location, found_sku, on_hand), []


class StockKind:
    name = "stock"
    fields = frozenset({"location", "sku", "on_hand"})
    field_prefixes: tuple[str, ...] = ()

    def apply(
        self,
        session: Session,
        rows: Sequence[tuple[int, Mapping[str, str]]],
        *,
        options: ImportOptions,
    ) -> BatchOutcome:
        outcome = BatchOutcome()
        good: list[tuple[int, tuple[str, str, int]]] = []
        named = FirstRows("stock level")
        for number, fields in rows:
            level, problems = _read(number, fields, options.location)
            if level is None:
                outcome.problems.extend(problems)
            elif repeated := named.repeated(number, [("sku", level[:2])]):
                outcome.problems.append(repeated)
            else:
                good.append((number, level))
        results = inventory_service.import_levels(
            session, levels=[level for _, level in good], reference="import", actor=ACTOR
        )
        for (number, _), result in zip(good, results, strict=True):
            count(outcome, number, result.status, result.field, result.reason)
        return outcome


STOCK = StockKind()
