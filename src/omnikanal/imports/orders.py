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

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import NamedTuple
from uuid import UUID

from sqlalchemy.orm import Session

from omnikanal.commerce import history as commerce_history
from omnikanal.commerce.history import CustomerReference, HistoricalLine, HistoricalOrder
from omnikanal.imports import values
from omnikanal.imports.kinds import BatchOutcome, ImportOptions, RowProblem
from omnikanal.imports.values import BadValue

MAX_QUANTITY = 100_000
MAX_TEXT = {"order_number": 100, "sku": 64, "location": 100, "name": 200}
# Identifiers and the rest: what an identifier row holds (customer_identifier.value).
MAX_OTHER_TEXT = 300


class _Bad(Exception):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


# The cells that describe the order rather than the line: a file repeats them on each of
# an order's lines, so a row whose cells equal the row before's reuses what was read.
ORDER_CELLS = (
    "order_number",
    "channel",
    "location",
    "ordered_at",
    "currency",
    "external_id",
    "user_id",
    "email",
    "loyalty_card",
    "phone",
)


# The line's own cells.
LINE_CELLS = ("sku", "quantity", "unit_price", "discount", "name")


class _Order(NamedTuple):
    """An order's own fields, read from one row."""

    number: str
    channel: str
    location: str | None
    ordered_at: datetime
    currency: str
    customer: CustomerReference

    @property
    def key(self) -> tuple[str, str]:
        return (self.channel, self.number)


def _text(row: Mapping[str, str], name: str) -> str | None:
    """A cell's text, or None when it is empty (imports.values; its reason named by the
    field). Called for every cell of every row: the usual cell is checked here inline."""
    raw = row.get(name)
    if not raw:
        return None
    cleaned = raw.strip()
    if not cleaned:
        return None
    if len(cleaned) <= MAX_TEXT.get(name, MAX_OTHER_TEXT) and "\x00" not in cleaned:
        return cleaned
    try:
        return values.text(raw, max_length=MAX_TEXT.get(name, MAX_OTHER_TEXT))
    except BadValue as exc:
        raise _Bad(name, str(exc)) from None


def _required(row: Mapping[str, str], name: str) -> str:
    value = _text(row, name)
    if value is None:
        raise _Bad(name, "is required")
    return value


def _time(row: Mapping[str, str]) -> datetime:
    raw = _required(row, "ordered_at")
    try:
        return values.moment(raw)
    except BadValue as exc:
        raise _Bad("ordered_at", str(exc)) from None


def minor_units(raw: str, currency: str, field: str) -> int:
    """A decimal amount in the currency's major unit as whole minor units (19.90 SEK ->
    1990); more decimals than the currency has is an error, not a rounding."""
    try:
        return values.minor_units(raw, currency)
    except BadValue as exc:
        raise _Bad(field, str(exc)) from None


def _quantity(row: Mapping[str, str]) -> int:
    raw = _required(row, "quantity")
    try:
        quantity = int(raw)
    except ValueError:
        raise _Bad("quantity", "is not a whole number") from None
    if not 0 < quantity <= MAX_QUANTITY:
        raise _Bad("quantity", f"must be between 1 and {MAX_QUANTITY}")
    return quantity


def _currency(row: Mapping[str, str]) -> str:
    raw = _required(row, "currency")
    try:
        return values.currency(raw)
    except BadValue as exc:
        raise _Bad("currency", str(exc)) from None


def parse_order(row: Mapping[str, str], options: ImportOptions) -> _Order:
    """The order's own fields of a row; raises _Bad naming the first field at fault."""
    currency = _currency(row)
    channel = (_text(row, "channel") or options.channel or "").lower()
    if not channel:
        raise _Bad("channel", "is required (web, app or pos)")
    email = _text(row, "email")
    if email is not None and "@" not in email:
        raise _Bad("email", "is not an email address")
    number = _required(row, "order_number")
    return _Order(
        number=number,
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
    )


def parse_line(number: int, row: Mapping[str, str], currency: str) -> HistoricalLine:
    """The line of a row; raises _Bad naming the first field at fault."""
    unit_price = minor_units(_required(row, "unit_price"), currency, "unit_price")
    sku = _required(row, "sku")
    quantity = _quantity(row)
    discount_raw = _text(row, "discount")
    discount = minor_units(discount_raw, currency, "discount") if discount_raw else 0
    return HistoricalLine(number, sku, quantity, unit_price, discount, _text(row, "name"))


class _OrderCells:
    """Reads each row's order fields, once for a run of rows that repeat them."""

    def __init__(self, options: ImportOptions) -> None:
        self.options = options
        self.cells: tuple[str | None, ...] | None = None
        self.read: _Order | _Bad | None = None

    def of(self, row: Mapping[str, str]) -> _Order:
        cells = tuple(map(row.get, ORDER_CELLS))
        if cells != self.cells:
            self.cells = cells
            try:
                self.read = parse_order(row, self.options)
            except _Bad as bad:
                self.read = bad
        if isinstance(self.read, _Bad):
            raise self.read
        assert self.read is not None
        return self.read


def gather(
    rows: Sequence[tuple[int, Mapping[str, str]]], options: ImportOptions
) -> tuple[list[HistoricalOrder], list[RowProblem]]:
    """The batch's rows as orders: consecutive rows of one (order_number, channel) are
    one order (rows of an order seen again later in the batch join it too); a row that
    cannot be read, or that disagrees with its order's first row, is a problem alone."""
    problems: list[RowProblem] = []
    firsts: dict[tuple[str, str], tuple[_Order, int]] = {}
    lines: dict[tuple[str, str], list[HistoricalLine]] = {}
    orders_read = _OrderCells(options)
    for number, raw in rows:
        try:
            order = orders_read.of(raw)
            line = parse_line(number, raw, order.currency)
        except _Bad as bad:
            problems.append(RowProblem(number, bad.field, bad.reason))
            continue
        key = order.key
        first, first_row = firsts.setdefault(key, (order, number))
        if first is not order and first != order:
            problems.append(
                RowProblem(
                    number,
                    _differing(first, order),
                    f"differs from the order's first line (row {first_row})",
                )
            )
            continue
        lines.setdefault(key, []).append(line)
    orders = [
        HistoricalOrder(
            number=first.number,
            channel=first.channel,
            location=first.location,
            ordered_at=first.ordered_at,
            currency=first.currency,
            customer=first.customer,
            lines=lines[key],
            row=first_row,
        )
        for key, (first, first_row) in firsts.items()
    ]
    return orders, problems


def _differing(first: _Order, order: _Order) -> str:
    for name in ("location", "ordered_at", "currency"):
        if getattr(first, name) != getattr(order, name):
            return name
    for name in ("external_id", "user_id", "email", "loyalty_card", "phone"):
        if getattr(first.customer, name) != getattr(order.customer, name):
            return name
    return ""


class OrdersKind:
    """Historical orders: see this module's docstring and commerce/history.py."""

    name = "orders"
    fields = frozenset({*ORDER_CELLS, *LINE_CELLS})
    field_prefixes: tuple[str, ...] = ()

    def apply(
        self,
        session: Session,
        rows: Sequence[tuple[int, Mapping[str, str]]],
        *,
        options: ImportOptions,
    ) -> BatchOutcome:
        # The collector is paused for the batch (jobs.run_batch).
        orders, problems = gather(rows, options)
        done = commerce_history.import_orders(
            session,
            orders,
            import_id=_import_id(options),
            award_points=options.award_points,
            dry_run=options.dry_run,
        )
        problems += [RowProblem(p.row, p.field, p.reason) for p in done.problems]
        problems.sort(key=lambda problem: problem.row)
        return BatchOutcome(
            created=done.lines_added, unchanged=done.lines_unchanged, problems=problems
        )

    def finish(self, session: Session, *, options: ImportOptions, since: datetime) -> None:
        """After the last batch: what the import's orders say of their buyers (channels,
        first/last seen, habits), at once (per batch, a file in date order would rewrite
        nearly everyone each time). ``since`` is when the import started, so a resumed one
        covers all its batches."""
        if not options.dry_run:
            commerce_history.finish_import(session, import_id=_import_id(options), since=since)


def _import_id(options: ImportOptions) -> UUID:
    if options.import_id is None:
        raise ValueError("an orders import needs its id (ImportOptions.import_id)")
    return options.import_id


ORDERS = OrdersKind()
