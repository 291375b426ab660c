"""Orders imported as history (S15): a retailer's past web, app and till orders.

A historical order keeps its channel, store, time and lines; it is linked to its person
through the identity graph (an unknown customer gets a profile, as an identify would),
goes on their timeline at its own time (``Order Completed``, as a live order does) and
counts for their habits and for the channels and first/last seen their profile shows, both
told once when the import ends (``finish_import``: a file in date order touches nearly
everyone in every batch, and each batch would rewrite them). It happened before the hub knew of
it, so it causes **no live reaction**: no domain event is recorded for it (no points, no
mail, no timers, no stock movement, no notification); points are earned only when the
import asks for them.

Everything is set-based: a batch of orders costs a handful of queries and bulk inserts,
whatever its size. An order is found again by its natural key, the channel's own number
for it on that channel (``external_reference``); importing it again changes nothing, and
lines it lacks (an order whose lines were split over two batches) are added to it.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID, uuid5

from sqlalchemy.orm import Session

from omnikanal.catalog import service as catalog_service
from omnikanal.catalog.pricing import vat_included
from omnikanal.commerce import checkout, habits, repository
from omnikanal.commerce.models import Fulfilment, OrderStatus
from omnikanal.customers import service as customers_service
from omnikanal.customers.identity import EMAIL, EXTERNAL_ID, LOYALTY_CARD, PHONE, IdentifierKey
from omnikanal.customers.service import Placement, Sighting
from omnikanal.events import service as events_service
from omnikanal.events.service import Activity
from omnikanal.inventory import service as inventory_service
from omnikanal.kit.ids import new_ids
from omnikanal.kit.limits import INT32_MAX
from omnikanal.kit.time import utcnow
from omnikanal.loyalty import service as loyalty_service

# The source of an imported order's timeline entry: the import itself (no channel's key
# did). A fixed id, so entries are found again on a second import. The order itself is
# placed by its import (``placed_by`` is the import's id: what it brought in is found).
IMPORT_CREDENTIAL_ID = uuid5(UUID("6f6d6e69-6b61-6e61-6c00-000000000000"), "import:orders")

CHANNELS = ("web", "app", "pos")
# The channel whose orders were rung up in a store: they need the store's code.
STORE_CHANNEL = "pos"


class HistoricalLine(NamedTuple):
    row: int  # where the line was read (1-based data row), for problems
    sku: str
    quantity: int
    unit_price: int  # minor units, VAT included, before the line's discount
    discount: int = 0  # minor units, off the whole line
    name: str | None = None  # as printed on the order; the product's name otherwise


class CustomerReference(NamedTuple):
    """Whatever names the buyer: another system's customer number, the channel's login id
    (the ``userId`` its events carry), email, card, phone."""

    external_id: str | None = None
    email: str | None = None
    loyalty_card: str | None = None
    phone: str | None = None
    user_id: str | None = None

    def given(self) -> bool:
        return any((self.external_id, self.user_id, self.email, self.loyalty_card, self.phone))


class HistoricalOrder(NamedTuple):  # a tuple: an import makes thousands a batch
    number: str  # the channel's own number for it (with ``channel``, its natural key)
    channel: str
    location: str | None
    ordered_at: datetime
    currency: str
    customer: CustomerReference
    lines: list[HistoricalLine]
    # Where the order's own fields were read (its first good row), for their problems.
    row: int = 0

    @property
    def key(self) -> tuple[str, str]:
        return (self.channel, self.number)


@dataclass(frozen=True)
class LineProblem:
    row: int
    field: str
    reason: str


@dataclass
class HistoryOutcome:
    """Per line read: added, already there, or a problem; and the orders written."""

    lines_added: int = 0
    lines_unchanged: int = 0
    orders_created: int = 0
    orders_extended: int = 0
    problems: list[LineProblem] = field(default_factory=list)


@dataclass(frozen=True)
class _Existing:
    id: UUID
    number: str
    profile_id: UUID | None
    anchor_id: UUID | None
    location: str | None
    placed_at: datetime
    currency: str
    # sku -> the line as line_summaries reads it (position, name, unit_price, quantity,
    # line_total, vat_amount)
    lines: dict[str, dict[str, Any]]


@dataclass
class _Accepted:
    order: HistoricalOrder
    lines: list[tuple[HistoricalLine, catalog_service.ProductFacts]]
    existing: _Existing | None


def import_orders(
    session: Session,
    orders: Sequence[HistoricalOrder],
    *,
    import_id: UUID,
    award_points: bool = False,
    dry_run: bool = False,
) -> HistoryOutcome:
    """Import a batch of past orders (see the module's docstring) for the import
    ``import_id``, whose ``finish_import`` follows its last batch. Each order appears once
    in ``orders`` (the caller gathers its lines). ``dry_run``: check everything, write
    nothing. ``award_points``: members earn their points, dated at each order's time."""
    outcome = HistoryOutcome()
    accepted = _check(session, orders, outcome)
    if dry_run:
        for item in accepted:
            _count(outcome, item)
        return outcome
    new = [item for item in accepted if item.existing is None and item.lines]
    placements = _place_people(session, [item.order for item in new])
    now = utcnow()
    order_rows, line_rows, activities = [], [], []
    line_ids = iter(new_ids(sum(len(item.lines) for item in accepted)))
    numbers = checkout.free_order_numbers(session, len(new))
    for item, order_id, number in zip(new, new_ids(len(new)), numbers, strict=True):
        person = placements.get(item.order.key)
        order_row, lines = _new_order(item, order_id, number, import_id, person, now, line_ids)
        order_rows.append(order_row)
        line_rows.extend(lines)
        activity = _timeline_entry(order_row, lines)
        if activity is not None:
            activities.append(activity)
    extended = [item for item in accepted if item.existing is not None and item.lines]
    totals, revised = [], []
    for item in extended:
        assert item.existing is not None
        lines = _added_lines(item, line_ids)
        line_rows.extend(lines)
        totals.append(
            (
                item.existing.id,
                sum(line["line_total"] for line in lines),
                sum(line["vat_amount"] for line in lines),
            )
        )
        activity = _revised_entry(item.existing, item.order, lines)
        if activity is not None:
            revised.append(activity)
    repository.insert_orders(session, order_rows)
    repository.insert_order_lines(session, line_rows)
    repository.add_to_totals(session, totals)
    events_service.record_history(session, activities)
    events_service.revise_history(session, revised)
    if award_points:
        _award_points(session, order_rows)
    for item in accepted:
        _count(outcome, item)
    return outcome


def finish_import(session: Session, *, import_id: UUID, since: datetime) -> int:
    """After the last batch of the import ``import_id``, begun at ``since`` (a resumed
    import's earlier batches are covered too): its buyers' channels and first/last seen,
    told once for all the orders it made, and the habits of everyone whose imported orders
    it made or extended; how many people's habits."""
    customers_service.add_visits(
        session,
        [
            customers_service.Visits(profile_id, channel, first, last, count)
            for profile_id, channel, first, last, count in repository.import_visits(
                session, placed_by=import_id, since=since
            )
        ],
    )
    return habits.refresh_imported(session, since=since)


def _count(outcome: HistoryOutcome, item: _Accepted) -> None:
    outcome.lines_added += len(item.lines)
    if item.lines:
        if item.existing is None:
            outcome.orders_created += 1
        else:
            outcome.orders_extended += 1


# -- checking: every rule in a few queries for the whole batch --


def _check(
    session: Session, orders: Sequence[HistoricalOrder], outcome: HistoryOutcome
) -> list[_Accepted]:
    products = catalog_service.product_facts(
        session, skus=[line.sku for order in orders for line in order.lines]
    )
    stores = inventory_service.known_locations(
        session, codes=[order.location for order in orders if order.location]
    )
    existing = _existing(session, [order.key for order in orders])
    accepted: list[_Accepted] = []
    now = utcnow()
    for order in orders:
        problem = _order_problem(order, stores, now)
        if problem is not None:
            field_name, reason = problem
            outcome.problems.extend(
                LineProblem(line.row, field_name, reason) for line in order.lines
            )
            continue
        known = existing.get(order.key)
        item = _Accepted(order=order, lines=[], existing=known)
        _check_lines(item, products, outcome)
        accepted.append(item)
    return accepted


def _order_problem(
    order: HistoricalOrder, stores: set[str], now: datetime
) -> tuple[str, str] | None:
    if order.channel not in CHANNELS:
        return "channel", f"must be one of {', '.join(CHANNELS)}"
    if order.channel == STORE_CHANNEL and not order.location:
        return "location", "a pos order needs the store it was rung up in"
    if order.location and order.location not in stores:
        return "location", "no store or warehouse has this code"
    if order.ordered_at > now:
        return "ordered_at", "is in the future; history has happened"
    return None


def _check_lines(
    item: _Accepted,
    products: dict[str, catalog_service.ProductFacts],
    outcome: HistoryOutcome,
) -> None:
    seen: set[str] = set()
    total = 0
    for line in item.order.lines:
        facts = products.get(line.sku)
        problem: tuple[str, str] | None = None
        stored = item.existing.lines.get(line.sku) if item.existing is not None else None
        if line.sku in seen:
            problem = ("sku", "already on another line of this order")
        elif stored is not None:
            if _same_line(line, stored):  # imported before (this file again, an earlier batch)
                seen.add(line.sku)
                outcome.lines_unchanged += 1
                continue
            problem = (
                "sku",
                "already on this order, imported before with another quantity or price",
            )
        elif facts is None:
            problem = ("sku", "no product has this SKU")
        elif line.discount > line.unit_price * line.quantity:
            problem = ("discount", "is more than the line costs")
        elif line.unit_price * line.quantity > INT32_MAX:
            problem = ("quantity", f"the line totals more than {INT32_MAX} minor units")
        elif total + line.unit_price * line.quantity - line.discount > INT32_MAX:
            problem = ("unit_price", f"the order totals more than {INT32_MAX} minor units")
        if problem is not None:
            outcome.problems.append(LineProblem(line.row, *problem))
            continue
        assert facts is not None
        seen.add(line.sku)
        total += line.unit_price * line.quantity - line.discount
        item.lines.append((line, facts))


def _same_line(line: HistoricalLine, stored: dict[str, Any]) -> bool:
    """Whether the stored line is this one: its units, price and total (after discount)."""
    return (
        int(stored["quantity"]) == line.quantity
        and int(stored["unit_price"]) == line.unit_price
        and int(stored["line_total"]) == line.unit_price * line.quantity - line.discount
    )


def _existing(
    session: Session, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], _Existing]:
    rows = repository.imported_orders(session, keys)
    lines: dict[UUID, dict[str, dict[str, Any]]] = {row.id: {} for row in rows}
    for line in repository.line_summaries(session, sorted(lines)):
        lines[line.order_id][line.sku] = {**line._mapping}
    return {
        (row.channel, row.external_reference): _Existing(
            id=row.id,
            number=row.number,
            profile_id=row.profile_id,
            anchor_id=row.anchor_id,
            location=row.location,
            placed_at=row.placed_at,
            currency=row.currency,
            lines=lines[row.id],
        )
        for row in rows
    }


# -- the people: one call of the identity graph for the whole batch --


def _place_people(
    session: Session, orders: Sequence[HistoricalOrder]
) -> dict[tuple[str, str], Placement]:
    """Each order's person, linked or created as an identify with its identifiers would
    be; orders naming nobody are anonymous. A customer's orders in the batch name them
    alike: they are one message to the identity graph, its traits as of the latest order
    (their channels and times are told when the import ends, ``finish_import``)."""
    by_customer: dict[CustomerReference, list[HistoricalOrder]] = {}
    for order in orders:
        by_customer.setdefault(order.customer, []).append(order)
    named: list[list[HistoricalOrder]] = []
    sightings: list[Sighting] = []
    for customer, placed in by_customer.items():
        keys, traits = _identifiers(session, customer)
        if not keys:
            continue
        first = placed[0]
        named.append(placed)
        sightings.append(
            Sighting(
                identifiers=keys,
                traits=traits,
                channel=first.channel,
                seen_at=max(order.ordered_at for order in placed),
                message_id=f"import-{first.channel}-{first.number}"[:200],
                source_id=IMPORT_CREDENTIAL_ID,
                visit=False,
            )
        )
    if not sightings:
        return {}
    observation = customers_service.observe(session, sightings)
    return {
        order.key: placement
        for placed, placement in zip(named, observation.placements, strict=True)
        for order in placed
    }


def _identifiers(
    session: Session, customer: CustomerReference
) -> tuple[list[IdentifierKey], dict[str, Any]]:
    traits = {
        name: value
        for name, value in ((EMAIL, customer.email), (LOYALTY_CARD, customer.loyalty_card))
        if value
    }
    if customer.phone:
        traits[PHONE] = customer.phone
    # The customer number is an identifier, not a trait the profile shows.
    named = {EXTERNAL_ID: customer.external_id, **traits} if customer.external_id else traits
    keys = customers_service.identifiers_for(session, user_id=customer.user_id, traits=named)
    return keys, customers_service.clean_traits(session, traits)


# -- rows --


def _new_order(
    item: _Accepted,
    order_id: UUID,
    number: str,
    import_id: UUID,
    person: Placement | None,
    now: datetime,
    line_ids: Iterator[UUID],
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    order = item.order
    in_store = order.channel == STORE_CHANNEL
    lines = _line_rows(order_id, order, item.lines, line_ids, start=0, location=order.location)
    return (
        {
            "id": order_id,
            "number": number,
            # Done long ago: sold over the counter, or sent.
            "status": OrderStatus.COMPLETED if in_store else OrderStatus.SHIPPED,
            "channel": order.channel,
            "location": order.location,
            "placed_by": import_id,
            "profile_id": person.profile_id if person else None,
            "anchor_id": person.anchor_id if person else None,
            "cart_id": None,
            "currency": order.currency,
            "total": sum(line["line_total"] for line in lines),
            "vat_total": sum(line["vat_amount"] for line in lines),
            "fulfilment": Fulfilment.IN_STORE if in_store else Fulfilment.DELIVERY,
            "pickup_location": None,
            "delivery_address": None,
            "email": order.customer.email.strip().lower() if order.customer.email else None,
            "external_reference": order.number,
            "placed_at": order.ordered_at,
            "ready_at": None,
            "arrived_at": None,
            "handed_over_at": order.ordered_at,
            "cancelled_at": None,
            "updated_at": now,
            "imported_at": now,
        },
        lines,
    )


def _added_lines(item: _Accepted, line_ids: Iterator[UUID]) -> list[dict[str, Any]]:
    existing = item.existing
    assert existing is not None
    start = max((int(line["position"]) for line in existing.lines.values()), default=-1) + 1
    return _line_rows(
        existing.id, item.order, item.lines, line_ids, start=start, location=existing.location
    )


def _line_rows(
    order_id: UUID,
    order: HistoricalOrder,
    lines: Sequence[tuple[HistoricalLine, catalog_service.ProductFacts]],
    ids: Iterator[UUID],
    *,
    start: int,
    location: str | None,
) -> list[dict[str, Any]]:
    rows = []
    # Sold from the store (pos); unknown for web and app orders of the past.
    stock_location = location or ""
    for position, (line, facts) in enumerate(lines, start=start):
        line_total = line.unit_price * line.quantity - line.discount
        rows.append(
            {
                "id": next(ids),
                "order_id": order_id,
                "position": position,
                "sku": line.sku,
                "name": (line.name or facts.name)[:200],
                "quantity": line.quantity,
                # What was charged is all history knows: book and list price alike.
                "book_unit_price": line.unit_price,
                "unit_price": line.unit_price,
                "list_price": line.unit_price,
                "promotion_code": None,
                "vat_rate_bp": facts.vat_rate_bp,
                "line_total": line_total,
                "vat_amount": vat_included(line_total, facts.vat_rate_bp),
                "stock_location": stock_location,
                "hold_id": None,
                "returned_quantity": 0,
                "channel": order.channel,
                "currency": order.currency,
                "placed_at": order.ordered_at,
            }
        )
    return rows


# -- the timeline: ``Order Completed`` at the order's own time, as checkout writes it --


def _products(lines: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "sku": ln["sku"],
            "name": ln["name"],
            "price": ln["unit_price"],
            "quantity": ln["quantity"],
        }
        for ln in lines
    ]


def _properties(
    order_id: UUID, number: str, total: int, tax: int, currency: str, fulfilment: str
) -> dict[str, Any]:
    return {
        "order_id": str(order_id),
        "order_number": number,
        "total": total,
        "tax": tax,
        "currency": currency,
        "fulfilment": fulfilment,
        "pickup_location": None,
    }


def _timeline_entry(order: dict[str, Any], lines: Sequence[dict[str, Any]]) -> Activity | None:
    if order["profile_id"] is None or order["anchor_id"] is None:
        return None
    properties = _properties(
        order["id"],
        order["number"],
        order["total"],
        order["vat_total"],
        order["currency"],
        order["fulfilment"],
    )
    return Activity(
        credential_id=IMPORT_CREDENTIAL_ID,
        channel=order["channel"],
        location=order["location"],
        profile_id=order["profile_id"],
        anchor_id=order["anchor_id"],
        event="Order Completed",
        properties={
            **properties,
            "external_reference": order["external_reference"],
            "imported": True,
            "products": _products(lines),
        },
        message_id=f"order-{order['id']}-placed",
        at=order["placed_at"],
    )


def _revised_entry(
    existing: _Existing, order: HistoricalOrder, added: Sequence[dict[str, Any]]
) -> Activity | None:
    """The order's timeline entry with every line it now has (the earlier batch's and
    these); profile and anchor are only for the type, the entry keeps its own."""
    if existing.profile_id is None or existing.anchor_id is None:
        return None
    before = sorted(existing.lines.values(), key=lambda line: int(line["position"]))
    all_lines = [*before, *added]
    in_store = order.channel == STORE_CHANNEL
    # The totals as add_to_totals leaves them: the lines' own, summed.
    total = sum(int(line["line_total"]) for line in all_lines)
    tax = sum(int(line["vat_amount"]) for line in all_lines)
    return Activity(
        credential_id=IMPORT_CREDENTIAL_ID,
        channel=order.channel,
        location=existing.location,
        profile_id=existing.profile_id,
        anchor_id=existing.anchor_id,
        event="Order Completed",
        properties={
            **_properties(
                existing.id,
                existing.number,
                total,
                tax,
                existing.currency,
                Fulfilment.IN_STORE if in_store else Fulfilment.DELIVERY,
            ),
            "external_reference": order.number,
            "imported": True,
            "products": _products(all_lines),
        },
        message_id=f"order-{existing.id}-placed",
        at=existing.placed_at,
    )


# -- points, only when asked --


def _award_points(session: Session, orders: Sequence[dict[str, Any]]) -> None:
    """Members earn for their imported orders through the loyalty service, dated at the
    order's time; keyed by the order, so an order earns once however often imported."""
    for order in orders:
        if order["profile_id"] is None:
            continue
        loyalty_service.earn_for_order(
            session,
            profile_id=order["profile_id"],
            order_id=str(order["id"]),
            amount_minor=order["total"],
            currency=order["currency"],
            channel=order["channel"],
            location=order["location"],
            at=order["placed_at"],
        )
