"""The ``orders`` import kind: a retailer's order history, one row per order line.

The hub format (column names after the column map; see docs/imports-orders.md):

- ``order_number`` the channel's own number for the order; with ``channel`` its natural key
- ``channel`` ``web``, ``app`` or ``pos`` (default: the import's ``channel`` option)
- ``location`` the store's code; a ``pos`` order needs one (default: the ``location`` option)
- ``ordered_at`` ISO 8601 with its zone (``2024-03-01T14:05:00+01:00``)
- ``external_id`` (another system's customer number), ``user_id`` (the channel's login id,
  as its events' ``userId``), ``email``, ``loyalty_card``, ``phone``: whatever names the
  customer (none: an anonymous order)
- ``sku``, ``quantity``, ``unit_price`` (a decimal in the currency's major unit, VAT
  included), ``currency`` (ISO 4217)
- optional: ``discount`` (off the whole line, major unit), ``name`` (the line as printed)

A file lists an order's lines together. Rows are gathered by (order_number, channel); an
order whose lines reach into the next batch gets them added there. A row whose order
fields (time, store, customer, currency) differ from the order's first row is refused.
Counts are per row: ``created`` a line added, ``unchanged`` a line imported before.
Habits (computed traits) are refreshed once, by ``finish`` after the last batch.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy.orm import Session

from omnikanal.commerce import history as commerce_history
from omnikanal.commerce.history import CustomerReference, HistoricalLine, HistoricalOrder
from omnikanal.imports import values
from omnikanal.imports.kinds import BatchOutcome, ImportOptions, RowProblem
from omnikanal.imports.values import BadValue
from omnikanal.kit.gc_pause import collection_paused

_T = TypeVar("_T")

MAX_QUANTITY = 100_000
MAX_TEXT = {"order_number": 100, "sku": 64, "location": 100, "name": 200}
# Identifiers and the rest: what an identifier row holds (customer_identifier.value).
MAX_OTHER_TEXT = 300


class _Bad(Exception):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class _Row:
    """One row read: the order's fields and its line."""

    number: str
    channel: str
    location: str | None
    ordered_at: datetime
    currency: str
    customer: CustomerReference
    line: HistoricalLine

    def order_fields(self) -> tuple[object, ...]:
        return (self.location, self.ordered_at, self.currency, self.customer)


def _read(name: str, parse: Callable[[], _T]) -> _T:
    """A cell read by a shared parser (imports.values): its reason, named by the field."""
    try:
        return parse()
    except BadValue as exc:
        raise _Bad(name, str(exc)) from None


def _text(row: Mapping[str, str], name: str, *, required: bool = False) -> str | None:
    raw = row.get(name) or ""
    if not raw.strip():
        if required:
            raise _Bad(name, "is required")
        return None
    limit = MAX_TEXT.get(name, MAX_OTHER_TEXT)
    return _read(name, lambda: values.text(raw, max_length=limit))


def _required(row: Mapping[str, str], name: str) -> str:
    value = _text(row, name, required=True)
    assert value is not None
    return value


def _time(row: Mapping[str, str]) -> datetime:
    raw = _required(row, "ordered_at")
    return _read("ordered_at", lambda: values.moment(raw))


def minor_units(raw: str, currency: str, field: str) -> int:
    """A decimal amount in the currency's major unit as whole minor units (19.90 SEK ->
    1990); more decimals than the currency has is an error, not a rounding."""
    return _read(field, lambda: values.minor_units(raw, currency))


def _quantity(row: Mapping[str, str]) -> int:
    raw = _required(row, "quantity")
    try:
        quantity = int(raw)
    except ValueError:
        raise _Bad("quantity", "is not a whole number") from None
    if not 0 < quantity <= MAX_QUANTITY:
        raise _Bad("quantity", f"must be between 1 and {MAX_QUANTITY}")
    return quantity


def parse_row(number: int, row: Mapping[str, str], options: ImportOptions) -> _Row:
    """One row of the hub format, read; raises _Bad naming the first field at fault."""
    raw_currency = _required(row, "currency")
    currency = _read("currency", lambda: values.currency(raw_currency))
    channel = (_text(row, "channel") or options.channel or "").lower()
    if not channel:
        raise _Bad("channel", "is required (web, app or pos)")
    email = _text(row, "email")
    if email is not None and "@" not in email:
        raise _Bad("email", "is not an email address")
    unit_price = minor_units(_required(row, "unit_price"), currency, "unit_price")
    discount_raw = _text(row, "discount")
    return _Row(
        number=_required(row, "order_number"),
        channel=channel,
        location=_text(row, "location") or options.location,
        ordered_at=_time(row),
        currency=currency,
        customer=CustomerReference(
            external_id=_text(row, "external_id"),
            user_id=_text(row, "user_id"),
            email=email,
            loyalty_card=_text(row, "loyalty_card"),
            phone=_text(row, "phone"),
        ),
        line=HistoricalLine(
            row=number,
            sku=_required(row, "sku"),
            quantity=_quantity(row),
            unit_price=unit_price,
            discount=minor_units(discount_raw, currency, "discount") if discount_raw else 0,
            name=_text(row, "name"),
        ),
    )


def gather(
    rows: Sequence[tuple[int, Mapping[str, str]]], options: ImportOptions
) -> tuple[list[HistoricalOrder], list[RowProblem]]:
    """The batch's rows as orders: consecutive rows of one (order_number, channel) are
    one order (rows of an order seen again later in the batch join it too); a row that
    cannot be read, or that disagrees with its order's first row, is a problem alone."""
    problems: list[RowProblem] = []
    firsts: dict[tuple[str, str], _Row] = {}
    lines: dict[tuple[str, str], list[HistoricalLine]] = {}
    for number, raw in rows:
        try:
            row = parse_row(number, raw, options)
        except _Bad as bad:
            problems.append(RowProblem(number, bad.field, bad.reason))
            continue
        key = (row.channel, row.number)
        first = firsts.setdefault(key, row)
        if first is not row and first.order_fields() != row.order_fields():
            field = _differing(first, row)
            problems.append(
                RowProblem(
                    number, field, f"differs from the order's first line (row {first.line.row})"
                )
            )
            continue
        lines.setdefault(key, []).append(row.line)
    orders = [
        HistoricalOrder(
            number=first.number,
            channel=first.channel,
            location=first.location,
            ordered_at=first.ordered_at,
            currency=first.currency,
            customer=first.customer,
            lines=lines[key],
            row=first.line.row,
        )
        for key, first in firsts.items()
    ]
    return orders, problems


def _differing(first: _Row, row: _Row) -> str:
    for name in ("location", "ordered_at", "currency"):
        if getattr(first, name) != getattr(row, name):
            return name
    for name in ("external_id", "user_id", "email", "loyalty_card", "phone"):
        if getattr(first.customer, name) != getattr(row.customer, name):
            return name
    return ""


class OrdersKind:
    """Historical orders: see this module's docstring and commerce/history.py."""

    name = "orders"

    def apply(
        self,
        session: Session,
        rows: Sequence[tuple[int, Mapping[str, str]]],
        *,
        options: ImportOptions,
    ) -> BatchOutcome:
        # A batch allocates a dozen objects per line; the collector's full passes over
        # the whole heap they would trigger took a third of the import (H&M sample).
        with collection_paused():
            orders, problems = gather(rows, options)
            done = commerce_history.import_orders(
                session, orders, award_points=options.award_points, dry_run=options.dry_run
            )
        problems += [RowProblem(p.row, p.field, p.reason) for p in done.problems]
        problems.sort(key=lambda problem: problem.row)
        return BatchOutcome(
            created=done.lines_added, unchanged=done.lines_unchanged, problems=problems
        )

    def finish(self, session: Session, *, options: ImportOptions, since: datetime) -> None:
        """After the last batch: the habits of everyone the import's orders name, at once
        (per batch, a file in date order would read nearly everyone's history each time).
        ``since`` is when the import started, so a resumed one covers all its batches."""
        if not options.dry_run:
            with collection_paused():
                commerce_history.refresh_habits(session, since=since)


ORDERS = OrdersKind()
