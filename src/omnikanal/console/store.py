"""The store view: stock here and nearby, the pickup queue, returns and endless-aisle
orders (S5, S6, S17)."""

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from omnikanal.auth.models import Channel, Role
from omnikanal.catalog import service as catalog_service
from omnikanal.commerce import checkout, orders, returns
from omnikanal.commerce.models import Fulfilment, Order
from omnikanal.commerce.service import CommerceErrorCode, counter_of
from omnikanal.console import addresses, forms
from omnikanal.console.addresses import COUNTRY_NAMES
from omnikanal.console.dependencies import CheckedForm, require_console_roles
from omnikanal.console.forms import FieldRefused, Refusal
from omnikanal.console.pages import money, render
from omnikanal.console.service import SignedIn
from omnikanal.customers import service as customers_service
from omnikanal.errors import BadRequest, CommonErrorCode, OmnikanalError
from omnikanal.http import DbSession
from omnikanal.inventory import service as inventory_service
from omnikanal.inventory.models import Location
from omnikanal.inventory.service import NearbyLocation, StockLevel
from omnikanal.kit.limits import MAX_QUANTITY
from omnikanal.kit.time import utcnow
from omnikanal.privacy import access
from omnikanal.privacy.access import AccessAction
from omnikanal.recommendations import service as recommendations_service
from omnikanal.recommendations.service import Recommendations

router = APIRouter(prefix="/store")

Staff = Annotated[SignedIn, Depends(require_console_roles(Role.STORE))]

STOCK_PAGE = 50
COUNT_CAP = 1000
NEARBY = 4
CURRENCY_OF_COUNTRY = {"SE": "SEK", "DK": "DKK", "NO": "NOK", "FI": "EUR"}
CUSTOMER_TYPES = {"email": "Email", "phone": "Phone", "loyalty_card": "Loyalty card"}
# Suggestions for the customer in front of the associate.
SUGGESTED = 6


@dataclass(frozen=True)
class Suggested:
    """What the store view suggests for a customer looked up by the associate."""

    customer: str
    profile_id: UUID | None
    recommended: Recommendations | None


def _suggested(
    session: Session, user: SignedIn, store: Location, kind: str, customer: str
) -> Suggested | None:
    """The customer's suggestions in stock here, found by email, phone or card; the
    look-up is on the access log."""
    if not customer.strip() or kind not in CUSTOMER_TYPES:
        return None
    found = customers_service.find_profile_id(session, type_=kind, raw_value=customer.strip())
    if found is None:
        return Suggested(customer.strip(), None, None)
    recommended = recommendations_service.recommend(
        session, profile_id=found, limit=SUGGESTED, location=store.code, context="store"
    )
    access.record(
        session,
        actor=user.actor,
        action=AccessAction.RECOMMENDATIONS,
        profile_id=recommended.profile_id,
        reason="suggestions in the store",
    )
    return Suggested(customer.strip(), recommended.profile_id, recommended)


@dataclass(frozen=True)
class StockRow:
    here: StockLevel
    elsewhere: dict[str, int]


def _store(session: Session, user: SignedIn, asked: str | None) -> Location:
    """A store key's own store; an admin chooses (the first store by default)."""
    if user.actor.location is not None:
        return inventory_service.location(session, code=user.actor.location)
    stores = inventory_service.locations(session, kind="store")
    chosen = next((s for s in stores if s.code == asked), stores[0] if stores else None)
    if chosen is None:
        raise BadRequest(CommonErrorCode.BAD_REQUEST, "There is no store to show yet.")
    return chosen


def store_of(session: Session, user: SignedIn, asked: str | None) -> Location:
    """The store a form acts at (the order page's returns too)."""
    return _store(session, user, asked)


def _field(form: FormData, name: str, *, required: bool = True, missing: str = "") -> str:
    return forms.text(form, name, required=required, missing=missing)


def _quantity(form: FormData) -> int:
    text = _field(form, "quantity", missing="Say how many.")
    # isdecimal() also takes other scripts' digits; int() reads those too.
    if not (text.isdecimal() and len(text) <= 4 and 1 <= int(text) <= MAX_QUANTITY):
        raise FieldRefused(
            "quantity", f"The quantity is a whole number from 1 to {MAX_QUANTITY:,}."
        )
    return int(text)


def _back(location: Location, user: SignedIn, done: str) -> Response:
    query = {"done": done}
    if user.actor.location is None:
        query["location"] = location.code
    return RedirectResponse(f"/console/store?{urlencode(query)}", 303)


@dataclass(frozen=True)
class Review:
    """The endless-aisle order as it will be placed: shown before payment is taken."""

    sku: str
    name: str
    quantity: int
    unit_price: int
    total: int
    currency: str
    address: dict[str, str]
    values: dict[str, str]


def _store_page(
    request: Request,
    session: Session,
    user: SignedIn,
    store: Location,
    *,
    sku: str = "",
    after: str | None = None,
    refused: Refusal | None = None,
    review: Review | None = None,
    suggested: Suggested | None = None,
) -> Response:
    prefix = sku.strip().upper() or None
    levels = inventory_service.stock_page(
        session, location=store.code, sku_prefix=prefix, after=after, limit=STOCK_PAGE + 1
    )
    shown = levels[:STOCK_PAGE]
    nearby: list[NearbyLocation] = [
        n
        for n in inventory_service.nearby(
            session, latitude=store.latitude, longitude=store.longitude, limit=NEARBY + 1
        )
        if n.location.code != store.code
    ][:NEARBY]
    rows = []
    for level in shown:
        at = {
            s.location.code: s.stock.available
            for s in inventory_service.availability(session, sku=level.sku)
        }
        rows.append(
            StockRow(
                here=level, elsewhere={n.location.code: at.get(n.location.code, 0) for n in nearby}
            )
        )
    queue = orders.pickup_queue(session, actor=user.actor, location=store.code)
    next_query = None
    if len(levels) > STOCK_PAGE:
        params = {"after": shown[-1].sku, "sku": sku}
        if user.actor.location is None:
            params["location"] = store.code
        next_query = "?" + urlencode(params)
    return render(
        request,
        "store.html",
        title=f"Store · {store.name or store.code}",
        user=user,
        store=store,
        stores=inventory_service.locations(session, kind="store")
        if user.actor.location is None
        else [],
        sku=sku,
        rows=rows,
        stock_total=_stock_count(session, store, prefix),
        count_cap=COUNT_CAP,
        first_page=after is None,
        nearby=nearby,
        next_query=next_query,
        queue=orders.views(session, queue),
        customer_types=CUSTOMER_TYPES,
        countries=COUNTRY_NAMES,
        currency=CURRENCY_OF_COUNTRY.get(str(store.address.get("country", "")), "SEK"),
        done=request.query_params.get("done") if refused is None and review is None else None,
        refused=refused,
        review=review,
        suggested=suggested,
        status_code=422 if refused else 200,
    )


def _stock_count(session: Session, store: Location, prefix: str | None) -> int:
    """How many SKUs the list holds, counted up to COUNT_CAP (inventory offers pages only;
    past the cap the page says "more than")."""
    return len(
        inventory_service.stock_page(
            session, location=store.code, sku_prefix=prefix, limit=COUNT_CAP + 1
        )
    )


@router.get("")
def store_view(
    request: Request,
    session: DbSession,
    user: Staff,
    location: str | None = None,
    sku: str = "",
    after: str | None = None,
    customer_type: str = "email",
    customer: str = "",
) -> Response:
    store = _store(session, user, location)
    suggested = _suggested(session, user, store, customer_type, customer)
    return _store_page(request, session, user, store, sku=sku, after=after, suggested=suggested)


STEPS = {
    "preparing": (orders.start_preparing, "is being prepared"),
    "ready": (orders.mark_ready, "is ready for pickup"),
    "collected": (orders.collect, "was collected"),
}


@router.post("/pickups/{order_id}/{step}")
def pickup_step(
    order_id: UUID, step: str, session: DbSession, user: Staff, form: CheckedForm
) -> Response:
    store = _store(session, user, _field(form, "location", required=False) or None)
    if step not in STEPS:
        raise BadRequest(CommonErrorCode.BAD_REQUEST, f"Unknown pickup step {step!r}.")
    move, done = STEPS[step]
    order = move(session, actor=user.actor, order_id=order_id)
    return _back(store, user, f"Order {order.number} {done}.")


# Which field a refused return is about, by the error's code.
RETURN_FIELDS: dict[str, str] = {
    CommerceErrorCode.ORDER_NOT_FOUND: "order_number",
    CommerceErrorCode.NOT_IN_ORDER: "sku",
    CommerceErrorCode.RETURN_EXCEEDS_PURCHASE: "quantity",
    CommerceErrorCode.INVALID_QUANTITY: "quantity",
}


def receive_return(
    session: Session, user: SignedIn, store: Location, order: Order, form: FormData
) -> str:
    """Take the return the form describes at ``store``; what to tell the person."""
    item = returns.ReturnRequest(_field(form, "sku").upper(), _quantity(form))
    received = returns.receive(
        session,
        actor=user.actor,
        counter=counter_of(user.actor, channel=Channel.POS, location=store.code),
        order_id=order.id,
        items=[item],
        reason=_field(form, "reason", required=False) or None,
    )
    refund = money(received.received.refund_total, order.currency)
    return f"Return of order {order.number} taken: {refund} refunded."


@router.post("/returns")
def take_return(request: Request, session: DbSession, user: Staff, form: CheckedForm) -> Response:
    store = _store(session, user, _field(form, "location", required=False) or None)
    told: list[str] = []

    def take() -> None:
        number = _field(form, "order_number", missing="Type the number on the receipt.")
        _field(form, "sku", missing="Type the SKU of the item coming back.")
        _quantity(form)
        try:
            order = orders.by_number(session, number=number.upper())
        except OmnikanalError as exc:
            raise FieldRefused("order_number", f"No order or receipt has number {number}.") from exc
        told.append(receive_return(session, user, store, order, form))

    refused = forms.run(session, take)
    if refused is not None:
        return _store_page(
            request,
            session,
            user,
            store,
            refused=forms.refusal("return", form, refused, RETURN_FIELDS),
        )
    return _back(store, user, told[0])


def _aisle_order(session: Session, store: Location, form: FormData) -> Review:
    kind = _field(form, "customer_type")
    if kind not in CUSTOMER_TYPES:
        raise FieldRefused("customer_type", "Say whether it is an email, phone or card.")
    _field(form, "customer", missing="Type the customer's email, phone or card number.")
    address = addresses.checked(
        name=_field(form, "name", missing="Type the name to deliver to."),
        street=_field(form, "street", missing="Type the street and number."),
        postal_code=_field(form, "postal_code", missing="Type the postcode."),
        city=_field(form, "city", missing="Type the town or city."),
        country=_field(form, "country", missing="Choose the country."),
    )
    sku = _field(form, "sku", missing="Type the SKU of the item.").upper()
    quantity = _quantity(form)
    currency = CURRENCY_OF_COUNTRY.get(str(store.address.get("country", "")), "SEK")
    try:
        product = catalog_service.product(session, sku=sku)
        quote = catalog_service.price(session, sku=sku, channel=Channel.POS, currency=currency)
    except OmnikanalError as exc:
        raise FieldRefused("sku", f"{sku} is not a product we sell in {currency}.") from exc
    return Review(
        sku=sku,
        name=product.name,
        quantity=quantity,
        unit_price=quote.unit_price,
        total=quote.unit_price * quantity,
        currency=currency,
        address=address,
        values=forms.typed(form),
    )


def _place(session: Session, user: SignedIn, store: Location, form: FormData) -> str:
    review = _aisle_order(session, store, form)
    kind, customer_value = _field(form, "customer_type"), _field(form, "customer")
    first, _, last = review.address["name"].partition(" ")
    # Kept on the profile: the next order for them starts from it.
    traits: dict[str, Any] = {
        kind: customer_value,
        "first_name": first,
        "address": {k: v for k, v in review.address.items() if k != "name"},
    }
    if last:
        traits["last_name"] = last
    order = checkout.place_for_customer(
        session,
        actor=user.actor,
        counter=counter_of(user.actor, channel=Channel.POS, location=store.code),
        currency=review.currency,
        lines=[checkout.LineRequest(review.sku, review.quantity)],
        fulfilment=checkout.FulfilmentRequest(type=Fulfilment.DELIVERY, address=review.address),
        tenders=[
            checkout.TenderRequest(
                type="card",
                reference=_field(form, "card_reference", required=False) or None,
                amount=None,
            )
        ],
        customer=checkout.Customer(traits=traits),
        email=customer_value if kind == "email" else None,
        external_reference=None,
    )
    _remember(session, {k: v for k, v in traits.items() if k != kind}, kind, customer_value)
    total = money(order.total, order.currency)
    return (
        f"Order {order.number} placed ({total} paid by card): delivery to "
        f"{review.address['city']} from the warehouse."
    )


def _remember(session: Session, traits: dict[str, Any], kind: str, value: str) -> None:
    """The name and address typed go on the person's profile, as an identify would."""
    keys = customers_service.identifiers_for(
        session, user_id=None, anonymous_id=None, traits={kind: value}
    )
    sighting = customers_service.Sighting(
        identifiers=keys, traits=traits, channel=Channel.POS, seen_at=utcnow()
    )
    customers_service.observe(session, [sighting])


# Which field a refused order is about, by the error's code.
AISLE_FIELDS: dict[str, str] = {
    "insufficient_stock": "quantity",
    "identifier_required": "customer",
    "invalid_identifier": "customer",
    CommerceErrorCode.INVALID_QUANTITY: "quantity",
}


@router.post("/orders")
def endless_aisle(request: Request, session: DbSession, user: Staff, form: CheckedForm) -> Response:
    """Two steps: the order with its price and total to check with the customer, then,
    confirmed, placed and paid."""
    store = _store(session, user, _field(form, "location", required=False) or None)
    placing = form.get("step") == "place"
    outcome: list[Any] = []

    def act() -> None:
        if placing:
            outcome.append(_place(session, user, store, form))
        else:
            outcome.append(_aisle_order(session, store, form))

    refused = forms.run(session, act)
    if refused is not None:
        return _store_page(
            request,
            session,
            user,
            store,
            refused=forms.refusal("aisle", form, refused, AISLE_FIELDS),
        )
    if not placing:
        return _store_page(request, session, user, store, review=outcome[0])
    return _back(store, user, outcome[0])
