"""Carts, checkout, orders of every channel, returns and the price audit over HTTP."""

from datetime import UTC, datetime, timedelta
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Response

from omnikanal.auth.models import Channel
from omnikanal.auth.service import StaffActor
from omnikanal.catalog.schemas import Sku
from omnikanal.commerce import audit, carts, checkout, orders, returns
from omnikanal.commerce.dependencies import (
    AuditReader,
    CartUser,
    OrderHandler,
    OrderReader,
    OrderTaker,
    ReturnTaker,
)
from omnikanal.commerce.models import Order, Refund
from omnikanal.commerce.schemas import (
    CartCreate,
    CartItemCreate,
    CartLineRead,
    CartQuantity,
    CartRead,
    CheckoutRequest,
    Email,
    FulfilmentRequestBody,
    OrderCreate,
    OrderLineRead,
    OrderNumber,
    OrderPage,
    OrderRead,
    PriceAuditRead,
    RefundRead,
    ReportMoment,
    ReturnCreate,
    ReturnLineRead,
    ReturnRead,
    TenderCreate,
    TenderRead,
    VatRead,
)
from omnikanal.commerce.service import CommerceErrorCode, counter_of
from omnikanal.customers import service as customers_service
from omnikanal.customers.identity import ANONYMOUS_ID, EMAIL, LOYALTY_CARD, PHONE, USER_ID
from omnikanal.errors import BadRequest, CommonErrorCode, NotFound
from omnikanal.events.dependencies import ResolvedThrough
from omnikanal.http import DbSession
from omnikanal.kit.money import Money
from omnikanal.kit.pagination import (
    PageParams,
    decode_time_cursor,
    encode_time_cursor,
    page_params,
)
from omnikanal.kit.time import utcnow
from omnikanal.privacy import access
from omnikanal.privacy.access import AccessAction
from omnikanal.privacy.dependencies import AccessReason

router = APIRouter(prefix="/v1", tags=["commerce"])


def _money(amount: int, currency: str) -> Money:
    return Money(amount=amount, currency=currency)


# -- carts --


def cart_read(session: DbSession, state: carts.CartState, actor: StaffActor) -> CartRead:
    cart = state.cart
    shown = carts.priced(session, state, channel=actor.channel or cart.channel)
    currency = cart.currency
    return CartRead(
        id=cart.id,
        status=cart.status,
        profile_id=state.profile_id,
        channel=shown.channel,
        currency=currency,
        lines=[cart_line_read(line, currency) for line in shown.lines],
        total=_money(shown.total, currency),
        vat=_vat(shown.vat_by_rate, currency),
        price_changed=any(line.price_changed for line in shown.lines),
        merged_cart_ids=state.merged_cart_ids,
        order_id=cart.order_id,
        created_at=cart.created_at,
        updated_at=cart.updated_at,
    )


def cart_line_read(line: carts.PricedLine, currency: str) -> CartLineRead:
    return CartLineRead(
        sku=line.sku,
        name=line.name,
        image_url=line.image_url,
        quantity=line.quantity,
        list_price=_money(line.quote.list_price, currency),
        discount=_money(line.quote.discount, currency),
        unit_price=_money(line.quote.unit_price, currency),
        line_total=_money(line.line_total, currency),
        vat_rate_bp=line.quote.vat_rate_bp,
        promotion_code=line.quote.promotion_code,
        unit_price_when_added=_money(line.unit_price_when_added, currency),
        price_changed=line.price_changed,
        added_at=line.added_at,
    )


def _vat(by_rate: dict[int, int], currency: str) -> list[VatRead]:
    return [
        VatRead(rate_bp=rate, amount=_money(amount, currency))
        for rate, amount in sorted(by_rate.items())
    ]


@router.post("/carts", response_model=CartRead, tags=["carts"])
def open_cart(
    body: CartCreate, session: DbSession, actor: CartUser, response: Response
) -> CartRead:
    """The person's active cart (201 when made now), found by any of their identifiers;
    ``items`` are added to it."""
    counter = counter_of(actor, channel=body.channel, location=None)
    state, created = carts.open_cart(
        session,
        actor=actor,
        counter=counter,
        currency=body.currency,
        user_id=body.user_id,
        anonymous_id=body.anonymous_id,
        email=body.email,
        items=[(item.sku, item.quantity) for item in body.items],
    )
    response.status_code = 201 if created else 200
    return cart_read(session, state, actor)


@router.get("/carts/current", response_model=CartRead, tags=["carts"])
def current_cart(
    session: DbSession,
    actor: CartUser,
    _resolved: ResolvedThrough,
    anonymous_id: Annotated[str | None, Query(max_length=300)] = None,
    user_id: Annotated[str | None, Query(max_length=300)] = None,
    email: Annotated[Email | None, Query()] = None,
    phone: Annotated[str | None, Query(max_length=40)] = None,
    loyalty_card: Annotated[str | None, Query(max_length=100)] = None,
    profile_id: UUID | None = None,
    reason: AccessReason = None,
) -> CartRead:
    """The person's active cart, found from any of their identifiers on any device."""
    given = {
        ANONYMOUS_ID: anonymous_id,
        USER_ID: user_id,
        EMAIL: email,
        PHONE: phone,
        LOYALTY_CARD: loyalty_card,
    }
    asked = {type_: value for type_, value in given.items() if value}
    if len(asked) + (profile_id is not None) != 1:
        raise BadRequest(
            CommonErrorCode.BAD_REQUEST,
            "Give exactly one of anonymous_id, user_id, email, phone, loyalty_card, profile_id.",
        )
    if profile_id is None:
        ((type_, value),) = asked.items()
        profile_id = customers_service.find_profile_id(session, type_=type_, raw_value=value)
    state = carts.person_cart(session, profile_id=profile_id) if profile_id else None
    if state is None:
        raise NotFound(CommerceErrorCode.CART_NOT_FOUND, "This person has no active cart.")
    access.record(
        session, actor=actor, action=AccessAction.CART, profile_id=state.profile_id, reason=reason
    )
    return cart_read(session, state, actor)


@router.get("/carts/{cart_id}", response_model=CartRead, tags=["carts"])
def get_cart(
    cart_id: UUID, session: DbSession, actor: CartUser, reason: AccessReason = None
) -> CartRead:
    """A cart; a merged-away cart answers with the cart it joined."""
    state = carts.find_cart(session, cart_id=cart_id)
    access.record(
        session, actor=actor, action=AccessAction.CART, profile_id=state.profile_id, reason=reason
    )
    return cart_read(session, state, actor)


@router.post("/carts/{cart_id}/items", response_model=CartRead, tags=["carts"])
def add_item(cart_id: UUID, body: CartItemCreate, session: DbSession, actor: CartUser) -> CartRead:
    """Add units of a SKU (Segment's ``Product Added`` goes on the person's timeline)."""
    cart = carts.active_cart_for_change(session, cart_id=cart_id)
    counter = counter_of(actor, channel=Channel(cart.channel), location=None)
    carts.add_item(
        session, actor=actor, counter=counter, cart=cart, sku=body.sku, quantity=body.quantity
    )
    return cart_read(session, carts.find_cart(session, cart_id=cart.id), actor)


@router.put("/carts/{cart_id}/items/{sku}", response_model=CartRead, tags=["carts"])
def set_item_quantity(
    cart_id: UUID, sku: Sku, body: CartQuantity, session: DbSession, actor: CartUser
) -> CartRead:
    """Set a line's quantity; 0 removes it (``Product Removed``)."""
    cart = carts.active_cart_for_change(session, cart_id=cart_id)
    counter = counter_of(actor, channel=Channel(cart.channel), location=None)
    carts.set_quantity(
        session, actor=actor, counter=counter, cart=cart, sku=sku, quantity=body.quantity
    )
    return cart_read(session, carts.find_cart(session, cart_id=cart.id), actor)


@router.delete("/carts/{cart_id}/items/{sku}", response_model=CartRead, tags=["carts"])
def remove_item(cart_id: UUID, sku: Sku, session: DbSession, actor: CartUser) -> CartRead:
    cart = carts.active_cart_for_change(session, cart_id=cart_id)
    counter = counter_of(actor, channel=Channel(cart.channel), location=None)
    carts.set_quantity(session, actor=actor, counter=counter, cart=cart, sku=sku, quantity=0)
    return cart_read(session, carts.find_cart(session, cart_id=cart.id), actor)


# -- orders --


def _tenders(body: list[TenderCreate]) -> list[checkout.TenderRequest]:
    return [
        checkout.TenderRequest(
            type=t.type,
            reference=t.reference,
            amount=t.amount.amount if t.amount else None,
            currency=t.amount.currency if t.amount else None,
            points=t.points,
        )
        for t in body
    ]


def _fulfilment(body: FulfilmentRequestBody) -> checkout.FulfilmentRequest:
    return checkout.FulfilmentRequest(
        type=body.type,
        location=body.location,
        address=body.address.model_dump() if body.address else None,
    )


def _refund_read(refund: Refund, currency: str) -> RefundRead:
    return RefundRead(
        id=refund.id,
        return_id=refund.return_id,
        tender_type=refund.tender_type,
        reference=refund.reference,
        amount=_money(refund.amount, currency),
        created_at=refund.created_at,
    )


def _order_read(view: orders.OrderView) -> OrderRead:
    order = view.order
    currency = order.currency
    vat: dict[int, int] = {}
    for line in view.lines:
        vat[line.vat_rate_bp] = vat.get(line.vat_rate_bp, 0) + line.vat_amount
    return OrderRead(
        id=order.id,
        number=order.number,
        status=order.status,
        channel=order.channel,
        location=order.location,
        profile_id=order.profile_id,
        cart_id=order.cart_id,
        fulfilment=order.fulfilment,
        pickup_location=order.pickup_location,
        delivery_address=order.delivery_address,
        email=order.email,
        external_reference=order.external_reference,
        total=_money(order.total, currency),
        vat=_vat(vat, currency),
        lines=[
            OrderLineRead(
                sku=line.sku,
                name=line.name,
                quantity=line.quantity,
                returned_quantity=line.returned_quantity,
                unit_price=_money(line.unit_price, currency),
                book_unit_price=_money(line.book_unit_price, currency),
                list_price=_money(line.list_price, currency),
                promotion_code=line.promotion_code,
                line_total=_money(line.line_total, currency),
                vat_rate_bp=line.vat_rate_bp,
                vat_amount=_money(line.vat_amount, currency),
                stock_location=line.stock_location,
            )
            for line in view.lines
        ],
        tenders=[
            TenderRead(
                type=t.type,
                reference=t.reference,
                amount=_money(t.amount, currency),
                points=t.points,
                refunded=_money(t.refunded, currency),
            )
            for t in view.tenders
        ],
        refunds=[_refund_read(r, currency) for r in view.refunds],
        placed_at=order.placed_at,
        ready_at=order.ready_at,
        arrived_at=order.arrived_at,
        handed_over_at=order.handed_over_at,
        cancelled_at=order.cancelled_at,
    )


def _one(session: DbSession, order: Order) -> OrderRead:
    return _order_read(orders.views(session, [order])[0])


@router.post("/carts/{cart_id}/checkout", status_code=201, response_model=OrderRead, tags=["carts"])
def check_out(
    cart_id: UUID, body: CheckoutRequest, session: DbSession, actor: OrderTaker
) -> OrderRead:
    """Order the cart in one transaction: stock allocated for delivery or reserved at the
    pickup store, the cart closed, ``order.placed`` recorded. Send an Idempotency-Key."""
    counter = counter_of(actor, channel=body.channel, location=None)
    order = checkout.checkout(
        session,
        actor=actor,
        counter=counter,
        cart_id=cart_id,
        fulfilment=_fulfilment(body.fulfilment),
        tenders=_tenders(body.tenders),
        email=body.email,
        external_reference=body.external_reference,
    )
    return _order_read(orders.view_of(session, order))


@router.post("/orders", status_code=201, response_model=OrderRead, tags=["orders"])
def place_order(body: OrderCreate, session: DbSession, actor: OrderTaker) -> OrderRead:
    """A till sale (stock goes down at the store at once) or an order taken for a customer
    (endless aisle: delivery from the warehouse). Send an Idempotency-Key."""
    counter = counter_of(actor, channel=body.channel, location=body.location)
    customer = None
    if body.customer is not None:
        customer = checkout.Customer(
            user_id=body.customer.user_id,
            profile_id=body.customer.profile_id,
            traits=body.customer.traits(),
        )
    order = checkout.place_for_customer(
        session,
        actor=actor,
        counter=counter,
        currency=body.currency,
        lines=[
            checkout.LineRequest(sku=line.sku, quantity=line.quantity, unit_price=line.unit_price)
            for line in body.lines
        ],
        fulfilment=_fulfilment(body.fulfilment),
        tenders=_tenders(body.tenders),
        customer=customer,
        email=body.email,
        external_reference=body.external_reference,
    )
    return _order_read(orders.view_of(session, order))


def _order_cursor(value: str | None) -> tuple[datetime, UUID] | None:
    if value is None:
        return None
    return decode_time_cursor(value)


@router.get("/orders", response_model=OrderPage, tags=["orders"])
def list_orders(
    session: DbSession,
    actor: OrderReader,
    profile_id: UUID,
    page: Annotated[PageParams, Depends(page_params)],
    reason: AccessReason = None,
) -> OrderPage:
    """A person's orders from every channel, newest first."""
    live, found = orders.of_person(
        session, profile_id=profile_id, before=_order_cursor(page.cursor), limit=page.limit + 1
    )
    access.record(session, actor=actor, action=AccessAction.ORDERS, profile_id=live, reason=reason)
    shown = list(found[: page.limit])
    next_cursor = None
    if len(found) > page.limit:
        last = shown[-1]
        next_cursor = encode_time_cursor(last.placed_at, last.id)
    return OrderPage(
        profile_id=live,
        items=[_order_read(view) for view in orders.views(session, shown)],
        next_cursor=next_cursor,
    )


@router.get("/orders/by-number/{number}", response_model=OrderRead, tags=["orders"])
def get_order_by_number(
    number: OrderNumber, session: DbSession, actor: OrderReader, reason: AccessReason = None
) -> OrderRead:
    order = orders.by_number(session, number=number)
    access.record(
        session, actor=actor, action=AccessAction.ORDERS, profile_id=order.profile_id, reason=reason
    )
    return _one(session, order)


@router.get("/orders/{order_id}", response_model=OrderRead, tags=["orders"])
def get_order(
    order_id: UUID, session: DbSession, actor: OrderReader, reason: AccessReason = None
) -> OrderRead:
    order = orders.get(session, order_id=order_id)
    access.record(
        session, actor=actor, action=AccessAction.ORDERS, profile_id=order.profile_id, reason=reason
    )
    return _one(session, order)


@router.post("/orders/{order_id}/preparing", response_model=OrderRead, tags=["orders"])
def start_preparing(order_id: UUID, session: DbSession, actor: OrderHandler) -> OrderRead:
    """The pickup store has started on an order ahead (``order.preparing``)."""
    return _one(session, orders.start_preparing(session, actor=actor, order_id=order_id))


@router.post("/orders/{order_id}/arrived", response_model=OrderRead, tags=["orders"])
def customer_arrived(order_id: UUID, session: DbSession, actor: OrderHandler) -> OrderRead:
    """The customer is at the store (``order.customer_arrived``): first in its queue."""
    return _one(session, orders.arrived(session, actor=actor, order_id=order_id))


@router.get("/locations/{code}/pickups", response_model=list[OrderRead], tags=["orders"])
def pickup_queue(
    code: Annotated[str, Path(max_length=100)], session: DbSession, actor: OrderHandler
) -> list[OrderRead]:
    """The store's orders waiting for pickup: arrived customers first, then oldest first."""
    queue = orders.pickup_queue(session, actor=actor, location=code)
    return [_order_read(view) for view in orders.views(session, queue)]


@router.post("/orders/{order_id}/ready", response_model=OrderRead, tags=["orders"])
def mark_ready(order_id: UUID, session: DbSession, actor: OrderHandler) -> OrderRead:
    """The pickup store has the order ready (``order.ready_for_pickup``)."""
    return _one(session, orders.mark_ready(session, actor=actor, order_id=order_id))


@router.post("/orders/{order_id}/collect", response_model=OrderRead, tags=["orders"])
def collect(order_id: UUID, session: DbSession, actor: OrderHandler) -> OrderRead:
    """Handed over at the pickup store (``order.collected``)."""
    return _one(session, orders.collect(session, actor=actor, order_id=order_id))


@router.post("/orders/{order_id}/ship", response_model=OrderRead, tags=["orders"])
def ship(order_id: UUID, session: DbSession, actor: OrderHandler) -> OrderRead:
    """Sent to the customer (``order.shipped``)."""
    return _one(session, orders.ship(session, actor=actor, order_id=order_id))


@router.post("/orders/{order_id}/cancel", response_model=OrderRead, tags=["orders"])
def cancel(order_id: UUID, session: DbSession, actor: OrderHandler) -> OrderRead:
    """Called off before hand-over: stock back, tenders refunded (``order.cancelled``)."""
    return _one(session, orders.cancel(session, actor=actor, order_id=order_id))


# -- returns --


def _return_read(session: DbSession, view: returns.ReturnView) -> ReturnRead:
    received, currency = view.received, view.order.currency
    refunds = [
        r for r in orders.views(session, [view.order])[0].refunds if r.return_id == received.id
    ]
    return ReturnRead(
        id=received.id,
        order_id=view.order.id,
        order_number=view.order.number,
        location=received.location,
        channel=received.channel,
        reason=received.reason,
        refund_total=_money(received.refund_total, currency),
        lines=[
            ReturnLineRead(
                sku=line.sku, quantity=line.quantity, refund=_money(line.refund_amount, currency)
            )
            for line in view.lines
        ],
        refunds=[_refund_read(r, currency) for r in refunds],
        created_at=received.created_at,
    )


@router.post("/returns", status_code=201, response_model=ReturnRead, tags=["returns"])
def receive_return(body: ReturnCreate, session: DbSession, actor: ReturnTaker) -> ReturnRead:
    """Goods of any order back at any store, or by post at the warehouse: stock back
    there, the refund to the order's tenders. Send an Idempotency-Key."""
    counter = counter_of(actor, channel=body.channel, location=body.location)
    order = (
        orders.get(session, order_id=body.order_id)
        if body.order_id
        else orders.by_number(session, number=body.order_number or "")
    )
    view = returns.receive(
        session,
        actor=actor,
        counter=counter,
        order_id=order.id,
        items=[returns.ReturnRequest(sku=line.sku, quantity=line.quantity) for line in body.lines],
        reason=body.reason,
    )
    return _return_read(session, view)


@router.get("/orders/{order_id}/returns", response_model=list[ReturnRead], tags=["returns"])
def order_returns(order_id: UUID, session: DbSession, _: OrderReader) -> list[ReturnRead]:
    return [_return_read(session, view) for view in returns.of_order(session, order_id=order_id)]


# -- the price audit --


def _days_before(moment: datetime, days: int) -> datetime:
    try:
        return moment - timedelta(days=days)
    except OverflowError:  # an until in the first days of year 1
        return datetime.min.replace(tzinfo=UTC)


@router.get("/reports/price-audit", response_model=PriceAuditRead, tags=["reports"])
def price_audit(
    session: DbSession,
    _: AuditReader,
    since: Annotated[
        ReportMoment | None,
        Query(
            description="A zoned date-time, or a date (its start in UTC). Default: 30 days "
            "before until."
        ),
    ] = None,
    until: Annotated[
        ReportMoment | None, Query(description="Like since, not included. Default: now.")
    ] = None,
    channel: Channel | None = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Mismatched lines listed.")] = 200,
) -> PriceAuditRead:
    """Order lines where a channel charged other than the price book said at that time."""
    end = until or utcnow()
    report = audit.price_audit(
        session,
        since=since or _days_before(end, 30),
        until=end,
        channel=channel.value if channel else None,
        limit=limit,
    )
    return PriceAuditRead.model_validate(report, from_attributes=True)
