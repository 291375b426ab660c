"""The store view: stock here and nearby, the pickup queue, returns and endless-aisle
orders (S5, S6, S17)."""

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from omnikanal.auth.models import Channel, Role
from omnikanal.commerce import checkout, orders, returns
from omnikanal.commerce.models import Fulfilment
from omnikanal.commerce.service import counter_of
from omnikanal.console.dependencies import CheckedForm, require_console_roles
from omnikanal.console.pages import render
from omnikanal.console.service import SignedIn
from omnikanal.errors import BadRequest, CommonErrorCode
from omnikanal.http import DbSession
from omnikanal.inventory import service as inventory_service
from omnikanal.inventory.models import Location
from omnikanal.inventory.service import NearbyLocation, StockLevel
from omnikanal.kit.limits import MAX_QUANTITY

router = APIRouter(prefix="/store")

Staff = Annotated[SignedIn, Depends(require_console_roles(Role.STORE))]

STOCK_PAGE = 50
NEARBY = 4
CURRENCY_OF_COUNTRY = {"SE": "SEK", "DK": "DKK", "NO": "NOK", "FI": "EUR"}
CUSTOMER_TYPES = {"email": "Email", "phone": "Phone", "loyalty_card": "Loyalty card"}


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


def _field(form: FormData, name: str, *, required: bool = True) -> str:
    value = form.get(name)
    text = value.strip() if isinstance(value, str) else ""
    if required and not text:
        raise BadRequest(CommonErrorCode.BAD_REQUEST, f"Fill in the {name.replace('_', ' ')}.")
    return text


def _quantity(form: FormData) -> int:
    text = _field(form, "quantity")
    # isdecimal() also takes other scripts' digits; int() reads those too.
    if not (text.isdecimal() and len(text) <= 4 and 1 <= int(text) <= MAX_QUANTITY):
        raise BadRequest(
            CommonErrorCode.BAD_REQUEST,
            f"The quantity is a whole number from 1 to {MAX_QUANTITY:,}.",
        )
    return int(text)


def _back(location: Location, user: SignedIn, done: str) -> Response:
    query = {"done": done}
    if user.actor.location is None:
        query["location"] = location.code
    return RedirectResponse(f"/console/store?{urlencode(query)}", 303)


@router.get("")
def store_view(
    request: Request,
    session: DbSession,
    user: Staff,
    location: str | None = None,
    sku: str = "",
    after: str | None = None,
) -> Response:
    store = _store(session, user, location)
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
        nearby=nearby,
        next_query=next_query,
        queue=orders.views(session, queue),
        customer_types=CUSTOMER_TYPES,
        currency=CURRENCY_OF_COUNTRY.get(str(store.address.get("country", "")), "SEK"),
        done=request.query_params.get("done"),
    )


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


@router.post("/returns")
def take_return(session: DbSession, user: Staff, form: CheckedForm) -> Response:
    item = returns.ReturnRequest(_field(form, "sku").upper(), _quantity(form))
    store = _store(session, user, _field(form, "location", required=False) or None)
    order = orders.by_number(session, number=_field(form, "order_number").upper())
    received = returns.receive(
        session,
        actor=user.actor,
        counter=counter_of(user.actor, channel=Channel.POS, location=store.code),
        order_id=order.id,
        items=[item],
        reason=_field(form, "reason", required=False) or None,
    )
    refund = received.received.refund_total
    return _back(
        store,
        user,
        f"Return of order {order.number} taken: {refund / 100:.2f} {order.currency} refunded.",
    )


@router.post("/orders")
def endless_aisle(session: DbSession, user: Staff, form: CheckedForm) -> Response:
    store = _store(session, user, _field(form, "location", required=False) or None)
    kind = _field(form, "customer_type")
    if kind not in CUSTOMER_TYPES:
        raise BadRequest(CommonErrorCode.BAD_REQUEST, "Say whether it is an email, phone or card.")
    customer_value = _field(form, "customer")
    address = {
        "name": _field(form, "name"),
        "street": _field(form, "street"),
        "postal_code": _field(form, "postal_code"),
        "city": _field(form, "city"),
        "country": _field(form, "country").upper(),
    }
    order = checkout.place_for_customer(
        session,
        actor=user.actor,
        counter=counter_of(user.actor, channel=Channel.POS, location=store.code),
        currency=CURRENCY_OF_COUNTRY.get(str(store.address.get("country", "")), "SEK"),
        lines=[checkout.LineRequest(_field(form, "sku").upper(), _quantity(form))],
        fulfilment=checkout.FulfilmentRequest(type=Fulfilment.DELIVERY, address=address),
        tenders=[
            checkout.TenderRequest(
                type="card",
                reference=_field(form, "card_reference", required=False) or None,
                amount=None,
            )
        ],
        customer=checkout.Customer(traits={kind: customer_value}),
        email=customer_value if kind == "email" else None,
        external_reference=None,
    )
    return _back(
        store,
        user,
        f"Order {order.number} placed: delivery to {address['city']} from the warehouse.",
    )
