"""Placing orders (S5, S10, S17): a cart's checkout, a till sale, an order taken for a
customer. One transaction: the order, its stock (sold at the till, reserved at the pickup
store, or allocated for delivery), the cart closed, and its events. Stock rows are changed
in SKU order, so concurrent orders never wait on each other in a circle.
"""

import base64
import dataclasses
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from sqlalchemy.orm import Session

from omnikanal.auth.service import StaffActor
from omnikanal.catalog import service as catalog_service
from omnikanal.catalog.pricing import vat_included
from omnikanal.commerce import carts, orders, repository
from omnikanal.commerce.models import (
    Fulfilment,
    Order,
    OrderLine,
    OrderStatus,
    Tender,
    TenderType,
)
from omnikanal.commerce.service import (
    CommerceErrorCode,
    Counter,
    OrderPlaced,
    live_profile_id,
    money,
    on_timeline,
    place_person,
    require_store_key,
)
from omnikanal.customers import service as customers_service
from omnikanal.customers.service import Placement
from omnikanal.errors import RuleViolation
from omnikanal.inventory import service as inventory_service
from omnikanal.kit.ids import new_id
from omnikanal.kit.limits import INT32_MAX
from omnikanal.kit.time import utcnow
from omnikanal.loyalty import service as loyalty_service
from omnikanal.uow import record_event


@dataclass(frozen=True)
class LineRequest:
    sku: str
    quantity: int
    # What a till charged for one unit; None: the price book's price.
    unit_price: int | None = None


@dataclass(frozen=True)
class TenderRequest:
    type: str
    reference: str | None
    # None: whatever the other tenders leave (at most one tender may say so).
    amount: int | None
    currency: str | None = None
    # loyalty_points: the points spent; their amount comes from the program.
    points: int | None = None


@dataclass(frozen=True)
class FulfilmentRequest:
    type: str
    location: str | None = None
    address: dict[str, Any] | None = None


@dataclass(frozen=True)
class Customer:
    """Whatever identifies the buyer at a till or an endless-aisle order (S10, S17)."""

    user_id: str | None = None
    anonymous_id: str | None = None
    profile_id: UUID | None = None
    traits: dict[str, Any] = field(default_factory=dict)


# -- placing --


def checkout(
    session: Session,
    *,
    actor: StaffActor,
    counter: Counter,
    cart_id: UUID,
    fulfilment: FulfilmentRequest,
    tenders: Sequence[TenderRequest],
    email: str | None,
    external_reference: str | None,
) -> Order:
    """Turn the person's cart into an order at today's prices on this channel."""
    # The person's carts are one now; its lines are all there is to order. An empty
    # cart refuses, and the error rolls its closing back.
    order_id = new_id()
    cart, cart_lines = carts.close_for_order(session, cart_id=cart_id, order_id=order_id)
    lines = [LineRequest(sku=line.sku, quantity=line.quantity) for line in cart_lines]
    if not lines:
        raise RuleViolation(CommerceErrorCode.CART_EMPTY, f"Cart {cart.id} is empty.")
    return place(
        session,
        actor=actor,
        counter=counter,
        currency=cart.currency,
        lines=lines,
        fulfilment=fulfilment,
        tenders=tenders,
        person=Placement(profile_id=cart.profile_id, anchor_id=cart.anchor_id),
        email=email,
        external_reference=external_reference,
        cart_id=cart.id,
        order_id=order_id,
    )


def place_for_customer(
    session: Session,
    *,
    actor: StaffActor,
    counter: Counter,
    currency: str,
    lines: Sequence[LineRequest],
    fulfilment: FulfilmentRequest,
    tenders: Sequence[TenderRequest],
    customer: Customer | None,
    email: str | None,
    external_reference: str | None,
) -> Order:
    """A till sale or an order taken for a customer: linked to the person when they give
    a loyalty card, email or phone (S10); anonymous otherwise."""
    person = _person(session, customer, email=email, channel=counter.channel)
    if fulfilment.type != Fulfilment.IN_STORE and person is None:
        raise RuleViolation(
            CommerceErrorCode.IDENTIFIER_REQUIRED,
            "An order to deliver or collect later needs its customer: give an email, phone, "
            "loyalty card or user id.",
            errors=[{"field": "customer", "message": "required unless sold over the counter"}],
        )
    return place(
        session,
        actor=actor,
        counter=counter,
        currency=currency,
        lines=lines,
        fulfilment=fulfilment,
        tenders=tenders,
        person=person,
        email=email,
        external_reference=external_reference,
    )


def _person(
    session: Session, customer: Customer | None, *, email: str | None, channel: str
) -> Placement | None:
    if customer is None and email is None:
        return None
    customer = customer or Customer()
    if customer.profile_id is not None:
        profile = customers_service.get_profile(session, profile_id=customer.profile_id)
        anchor = customers_service.strongest_identifier(session, profile.identifiers)
        if anchor is not None:
            return Placement(profile_id=profile.profile.id, anchor_id=anchor)
    traits = dict(customer.traits)
    if email:
        traits.setdefault("email", email)
    return place_person(
        session,
        user_id=customer.user_id,
        anonymous_id=customer.anonymous_id,
        traits=traits,
        channel=channel,
        at=utcnow(),
    )


@dataclass(frozen=True)
class _Priced:
    request: LineRequest
    name: str
    list_price: int
    book_unit_price: int
    unit_price: int
    promotion_code: str | None
    vat_rate_bp: int

    @property
    def line_total(self) -> int:
        return self.unit_price * self.request.quantity


def place(
    session: Session,
    *,
    actor: StaffActor,
    counter: Counter,
    currency: str,
    lines: Sequence[LineRequest],
    fulfilment: FulfilmentRequest,
    tenders: Sequence[TenderRequest],
    person: Placement | None,
    email: str | None,
    external_reference: str | None,
    cart_id: UUID | None = None,
    order_id: UUID | None = None,
) -> Order:
    now = utcnow()
    require_store_key(actor, counter)
    _distinct_skus(lines)
    if person is not None:
        person = Placement(live_profile_id(session, person.profile_id), person.anchor_id)
    # Today's price, as the cart showed it a moment ago in this same request.
    priced = _prices(
        session,
        lines,
        counter=counter,
        currency=currency,
        variants=carts.variants_for(session, person.profile_id if person else None),
    )
    total = _total(priced)
    tenders = _value_points(session, tenders, currency=currency, person=person)
    paid = _tenders(tenders, total=total, currency=currency)
    order = Order(
        id=order_id or new_id(),
        number=free_order_numbers(session, 1)[0],
        status=OrderStatus.PLACED,
        channel=counter.channel,
        location=counter.location,
        placed_by=actor.credential_id,
        profile_id=person.profile_id if person else None,
        anchor_id=person.anchor_id if person else None,
        cart_id=cart_id,
        currency=currency,
        total=total,
        vat_total=sum(vat_included(p.line_total, p.vat_rate_bp) for p in priced),
        fulfilment=fulfilment.type,
        pickup_location=None,
        delivery_address=fulfilment.address,
        email=email,
        external_reference=external_reference,
        placed_at=now,
        updated_at=now,
    )
    holds = _take_stock(session, order, fulfilment, priced, counter=counter)
    # Added without flushing in between: the first query after (or the commit) writes
    # the order, its lines and its tenders with one INSERT per table.
    order_lines = [
        _line(order, position, item, holds[item.request.sku])
        for position, item in enumerate(priced)
    ]
    order_tenders = [
        Tender(
            id=new_id(),
            order_id=order.id,
            position=position,
            type=tender.type,
            reference=tender.reference,
            amount=amount,
            points=tender.points,
            refunded=0,
        )
        for position, (tender, amount) in enumerate(paid)
    ]
    session.add(order)
    session.add_all(order_lines)
    session.add_all(order_tenders)
    _spend_points(session, order, paid, counter=counter)
    points_paid = sum(amount for tender, amount in paid if tender.points)
    _placed_events(session, actor, counter, order, priced, points_paid=points_paid)
    orders.remember_placed(session, orders.OrderView(order, order_lines, order_tenders, []))
    return order


def _line(order: Order, position: int, item: _Priced, held: tuple[str, UUID | None]) -> OrderLine:
    location, hold_id = held
    return OrderLine(
        id=new_id(),
        order_id=order.id,
        position=position,
        sku=item.request.sku,
        name=item.name,
        quantity=item.request.quantity,
        book_unit_price=item.book_unit_price,
        unit_price=item.unit_price,
        list_price=item.list_price,
        promotion_code=item.promotion_code,
        vat_rate_bp=item.vat_rate_bp,
        line_total=item.line_total,
        vat_amount=vat_included(item.line_total, item.vat_rate_bp),
        stock_location=location,
        hold_id=hold_id,
        returned_quantity=0,
        channel=order.channel,
        currency=order.currency,
        placed_at=order.placed_at,
    )


def _value_points(
    session: Session,
    tenders: Sequence[TenderRequest],
    *,
    currency: str,
    person: Placement | None,
) -> list[TenderRequest]:
    """Loyalty points as a tender pay what the program says they are worth (S8)."""
    valued = []
    for index, tender in enumerate(tenders):
        if tender.type == TenderType.LOYALTY_POINTS:
            if person is None or tender.points is None:
                raise RuleViolation(
                    CommerceErrorCode.IDENTIFIER_REQUIRED,
                    "Paying with points needs the member: give their card, email or phone.",
                    errors=[{"field": f"tenders[{index}]", "message": "no customer to pay"}],
                )
            per_point = loyalty_service.point_value(session, currency=currency)
            tender = dataclasses.replace(tender, amount=tender.points * per_point)
        valued.append(tender)
    return valued


def _spend_points(
    session: Session, order: Order, paid: Sequence[tuple[TenderRequest, int]], *, counter: Counter
) -> None:
    for position, (tender, _amount) in enumerate(paid):
        if tender.type == TenderType.LOYALTY_POINTS and tender.points:
            assert order.profile_id is not None
            loyalty_service.redeem(
                session,
                profile_id=order.profile_id,
                points=tender.points,
                reference=f"order-{order.id}-{position}",
                channel=counter.channel,
                location=counter.location,
                currency=order.currency,
            )


def _distinct_skus(lines: Sequence[LineRequest]) -> None:
    seen: set[str] = set()
    for index, line in enumerate(lines):
        if line.quantity <= 0:
            raise RuleViolation(
                CommerceErrorCode.INVALID_QUANTITY,
                f"Quantity must be positive, not {line.quantity}.",
                errors=[{"field": f"lines[{index}].quantity", "message": "must be positive"}],
            )
        if line.sku in seen:
            raise RuleViolation(
                CommerceErrorCode.DUPLICATE_SKU,
                f"{line.sku} is on two lines; put each SKU on one line.",
                errors=[{"field": f"lines[{index}].sku", "message": "already on another line"}],
            )
        seen.add(line.sku)


def _total(priced: Sequence[_Priced]) -> int:
    """The order's total; it and every line's total fit their 32-bit columns."""
    for index, item in enumerate(priced):
        if item.line_total > INT32_MAX:
            raise _too_large(f"lines[{index}]", item.line_total)
    total = sum(p.line_total for p in priced)
    if total > INT32_MAX:
        raise _too_large("lines", total)
    return total


def _too_large(field: str, amount: int) -> RuleViolation:
    return RuleViolation(
        CommerceErrorCode.AMOUNT_TOO_LARGE,
        f"{amount} minor units is more than one order can hold ({INT32_MAX}).",
        errors=[{"field": field, "message": f"totals at most {INT32_MAX} minor units"}],
    )


def _prices(
    session: Session,
    lines: Sequence[LineRequest],
    *,
    counter: Counter,
    currency: str,
    variants: Mapping[str, str] | None = None,
) -> list[_Priced]:
    """Every line at today's price, from the catalog in memory (one price book, set-based);
    ``variants``: the buyer's, for promotions limited to an experiment's variant."""
    skus = [line.sku for line in lines]
    quotes = catalog_service.quotes(
        session, skus=skus, channel=counter.channel, currency=currency, variants=variants
    )
    names = catalog_service.listings(session, skus=skus)
    return [
        _Priced(
            request=line,
            name=names[line.sku].name,
            list_price=quotes[line.sku].list_price,
            book_unit_price=quotes[line.sku].unit_price,
            unit_price=quotes[line.sku].unit_price if line.unit_price is None else line.unit_price,
            promotion_code=quotes[line.sku].promotion_code,
            vat_rate_bp=quotes[line.sku].vat_rate_bp,
        )
        for line in lines
    ]


def _tenders(
    tenders: Sequence[TenderRequest], *, total: int, currency: str
) -> list[tuple[TenderRequest, int]]:
    """Each tender with its amount; together they pay the total exactly."""
    for index, tender in enumerate(tenders):
        if tender.currency is not None and tender.currency != currency:
            raise RuleViolation(
                CommerceErrorCode.CURRENCY_MISMATCH,
                f"Tender {index} is in {tender.currency}; the order is in {currency}.",
                errors=[
                    {"field": f"tenders[{index}].amount.currency", "message": "not the order's"}
                ],
            )
    open_ended = [t for t in tenders if t.amount is None]
    if len(open_ended) > 1:
        raise RuleViolation(
            CommerceErrorCode.TENDER_MISMATCH,
            "At most one tender may leave its amount out (it pays the rest).",
            errors=[{"field": "tenders", "message": "give the amounts of all but one"}],
        )
    named = sum(t.amount or 0 for t in tenders)
    rest = total - named
    if (open_ended and rest < 0) or (not open_ended and rest != 0):
        raise RuleViolation(
            CommerceErrorCode.TENDER_MISMATCH,
            f"The tenders pay {named} {currency}; the order costs {total} {currency}.",
            errors=[{"field": "tenders", "message": f"must add up to {total}"}],
        )
    return [(t, rest if t.amount is None else t.amount) for t in tenders]


def _take_stock(
    session: Session,
    order: Order,
    fulfilment: FulfilmentRequest,
    priced: Sequence[_Priced],
    *,
    counter: Counter,
) -> dict[str, tuple[str, UUID | None]]:
    """Stock for each SKU: (where it comes from, the hold taken; None when sold at once),
    one conditional update per location over all the order's SKUs."""
    reference = f"order:{order.id}"
    pickup = (
        _pickup_store(session, fulfilment)
        if fulfilment.type == Fulfilment.CLICK_AND_COLLECT
        else None
    )
    order.pickup_location = pickup
    if fulfilment.type == Fulfilment.IN_STORE:
        if counter.location is None:
            raise RuleViolation(
                CommerceErrorCode.LOCATION_REQUIRED,
                "A sale over the counter happens at a store: use a store's key or give location.",
                errors=[{"field": "location", "message": "required for an in-store sale"}],
            )
        order.status = OrderStatus.COMPLETED
        order.handed_over_at = order.placed_at
    quantities = {item.request.sku: item.request.quantity for item in priced}
    if fulfilment.type == Fulfilment.IN_STORE:
        assert counter.location is not None
        taken = inventory_service.sell(
            session, location=counter.location, quantities=quantities, reference=reference
        )
    elif pickup is not None:
        taken = inventory_service.reserve(
            session, location=pickup, quantities=quantities, reference=reference
        )
    else:
        taken = inventory_service.allocate_all(session, quantities=quantities, reference=reference)
    return {sku: (found.location, found.hold_id) for sku, found in taken.items()}


def _pickup_store(session: Session, fulfilment: FulfilmentRequest) -> str:
    if fulfilment.location is None:
        raise RuleViolation(
            CommerceErrorCode.LOCATION_REQUIRED,
            "Click-and-collect needs the store to collect at.",
            errors=[{"field": "fulfilment.location", "message": "required"}],
        )
    store = inventory_service.location(session, code=fulfilment.location)
    if not (store.offers_pickup and store.active):
        raise RuleViolation(
            CommerceErrorCode.PICKUP_NOT_OFFERED,
            f"{store.name} ({store.code}) does not offer pickup.",
            errors=[{"field": "fulfilment.location", "message": "no pickup there"}],
        )
    return store.code


# Crockford's base32 without look-alikes: easy to read out over the phone.
_NUMBER_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def free_order_numbers(session: Session, count: int) -> list[str]:
    """Numbers for ``count`` new orders that no order has, nor each other: 40 random bits
    repeat about once in a million orders, and a retailer's orders run to millions (one
    index look-up for them all)."""
    numbers = order_numbers(count)
    while True:
        taken = repository.numbers_taken(session, numbers)
        clashing = []
        for index, number in enumerate(numbers):
            if number in taken:
                clashing.append(index)
            taken.add(number)
        if not clashing:
            return numbers
        for index, number in zip(clashing, order_numbers(len(clashing)), strict=True):
            numbers[index] = number


# RFC 4648's base32 alphabet to the numbers' own: 5 bytes are 8 characters in both.
_FROM_BASE32 = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", _NUMBER_ALPHABET.encode())


def order_numbers(count: int) -> list[str]:
    """``count`` new orders' numbers: NK- and 8 characters of Crockford's base32 without
    look-alikes, 40 random bits each, drawn in one call to the random source; they may
    repeat each other or an order's (``free_order_numbers`` draws again)."""
    return numbers_of(secrets.token_bytes(5 * count))


def numbers_of(random: bytes) -> list[str]:
    """The numbers of each 5 bytes (40 bits, big-endian) of ``random``, in one C call."""
    encoded = base64.b32encode(random).translate(_FROM_BASE32).decode()
    return ["NK-" + encoded[at : at + 8] for at in range(0, len(encoded), 8)]


def _products(priced: Sequence[_Priced]) -> list[dict[str, Any]]:
    """Lines as Segment's e-commerce spec lists products (prices in minor units)."""
    return [
        {
            "sku": p.request.sku,
            "name": p.name,
            "price": p.unit_price,
            "quantity": p.request.quantity,
        }
        for p in priced
    ]


def _placed_events(
    session: Session,
    actor: StaffActor,
    counter: Counter,
    order: Order,
    priced: Sequence[_Priced],
    *,
    points_paid: int,
) -> None:
    record_event(
        session,
        OrderPlaced(
            order_id=order.id,
            number=order.number,
            profile_id=order.profile_id,
            cart_id=order.cart_id,
            total=money(order.total, order.currency),
            channel=order.channel,
            location=order.location,
            fulfilment=order.fulfilment,
            pickup_location=order.pickup_location,
            skus=[p.request.sku for p in priced],
            paid_with_points=money(points_paid, order.currency),
        ),
    )
    on_timeline(
        session,
        actor=actor,
        counter=counter,
        profile_id=order.profile_id,
        anchor_id=order.anchor_id,
        event="Order Completed",
        properties={
            "order_id": str(order.id),
            "order_number": order.number,
            "total": order.total,
            "tax": order.vat_total,
            "currency": order.currency,
            "fulfilment": order.fulfilment,
            "pickup_location": order.pickup_location,
            "products": _products(priced),
        },
        message_id=f"order-{order.id}-placed",
        at=order.placed_at,
    )
