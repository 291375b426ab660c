"""The order page: its lines with SKU and size, how it was paid, its fulfilment, its
returns and what happened to it; a return starts from its lines (S6, S17)."""

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from omnikanal.auth.models import Channel, Role
from omnikanal.catalog import service as catalog_service
from omnikanal.commerce import orders, returns
from omnikanal.commerce.models import Fulfilment, Order, OrderLine, OrderStatus
from omnikanal.commerce.service import CommerceErrorCode, counter_of
from omnikanal.console import forms
from omnikanal.console.dependencies import CheckedForm, require_console_roles
from omnikanal.console.forms import FieldRefused, Refusal
from omnikanal.console.pages import label, money, render
from omnikanal.console.service import SignedIn
from omnikanal.console.store import store_of
from omnikanal.errors import OmnikanalError
from omnikanal.http import DbSession
from omnikanal.inventory import service as inventory_service
from omnikanal.kit.limits import MAX_QUANTITY
from omnikanal.privacy import access
from omnikanal.privacy.access import AccessAction

router = APIRouter(prefix="/orders")

Reader = Annotated[SignedIn, Depends(require_console_roles(Role.AGENT, Role.STORE))]
# Goods come back over a store's counter.
Taker = Annotated[SignedIn, Depends(require_console_roles(Role.STORE))]

RETURN_FORM = "return"
# How the goods left, by fulfilment: what "handed over" is called on the page.
HANDED_OVER = {
    Fulfilment.CLICK_AND_COLLECT: "Collected",
    Fulfilment.DELIVERY: "Shipped",
    Fulfilment.IN_STORE: "Handed over at the till",
}


@dataclass(frozen=True)
class Line:
    line: OrderLine
    # From the catalog's attributes, where the product still has them ("" otherwise).
    size: str
    colour: str

    @property
    def left(self) -> int:
        """Units not yet returned."""
        return self.line.quantity - self.line.returned_quantity

    @property
    def field(self) -> str:
        return f"quantity-{self.line.position}"


@dataclass(frozen=True)
class Happening:
    at: datetime
    what: str
    detail: str


def _lines(session: Session, view: orders.OrderView) -> list[Line]:
    found: list[Line] = []
    for line in view.lines:
        try:
            attributes = catalog_service.product(session, sku=line.sku).attributes
        except OmnikanalError:  # a product no longer in the catalog: the line still shows
            attributes = {}
        found.append(
            Line(
                line=line,
                size=str(attributes.get("size", "")),
                colour=str(attributes.get("colour", "")),
            )
        )
    return sorted(found, key=lambda item: item.line.position)


def _happenings(
    view: orders.OrderView, taken: list[returns.ReturnView], stores: dict[str, str]
) -> list[Happening]:
    """What happened to the order, oldest first: from its own times, returns and refunds."""
    order = view.order
    where = stores.get(order.location or "", order.location or "")
    found = [
        Happening(order.placed_at, "Placed", f"{order.channel}{' · ' + where if where else ''}")
    ]
    if order.arrived_at is not None:
        found.append(Happening(order.arrived_at, "Customer arrived", ""))
    if order.ready_at is not None:
        pickup = order.pickup_location or ""
        found.append(Happening(order.ready_at, "Ready for pickup", stores.get(pickup, pickup)))
    if order.handed_over_at is not None:
        found.append(
            Happening(order.handed_over_at, HANDED_OVER.get(order.fulfilment, "Handed over"), "")
        )
    if order.cancelled_at is not None:
        found.append(Happening(order.cancelled_at, "Cancelled", ""))
    for taken_back in taken:
        got = taken_back.received
        items = ", ".join(f"{line.quantity} × {line.sku}" for line in taken_back.lines)
        found.append(
            Happening(
                got.created_at, "Returned", f"{items} at {stores.get(got.location, got.location)}"
            )
        )
    for refund in view.refunds:
        found.append(
            Happening(
                refund.created_at,
                "Refunded",
                f"{money(refund.amount, order.currency)} to {label(refund.tender_type)}",
            )
        )
    return sorted(found, key=lambda happening: happening.at)


def order_page(
    request: Request,
    session: Session,
    user: SignedIn,
    order: Order,
    *,
    refused: Refusal | None = None,
) -> Response:
    view = orders.views(session, [order])[0]
    taken = returns.of_order(session, order_id=order.id)
    stores = {loc.code: loc.name or loc.code for loc in inventory_service.locations(session)}
    lines = _lines(session, view)
    can_return = user.actor.role in (Role.STORE, Role.ADMIN) and order.status in (
        OrderStatus.HANDED_OVER
    )
    return render(
        request,
        "order.html",
        title=f"Order {order.number}",
        user=user,
        view=view,
        order=order,
        lines=lines,
        returns=taken,
        happenings=_happenings(view, taken, stores),
        stores=stores,
        can_return=can_return and any(line.left > 0 for line in lines),
        # Admins say which store the goods came back to; store staff take them at theirs.
        return_stores=inventory_service.locations(session, kind="store")
        if user.actor.location is None
        else [],
        max_quantity=MAX_QUANTITY,
        done=request.query_params.get("done") if refused is None else None,
        refused=refused,
        status_code=422 if refused else 200,
    )


@router.get("/{order_id}")
def order_view(order_id: UUID, request: Request, session: DbSession, user: Reader) -> Response:
    order = orders.get(session, order_id=order_id)
    access.record(
        session, actor=user.actor, action=AccessAction.ORDERS, profile_id=order.profile_id
    )
    return order_page(request, session, user, order)


def _chosen(form: FormData, lines: list[Line]) -> list[tuple[Line, int]]:
    """The lines and quantities the form asks to return; each quantity is checked against
    what is left of its line, and at least one must be chosen."""
    chosen: list[tuple[Line, int]] = []
    for line in lines:
        text = forms.text(form, line.field, required=False) or "0"
        if not (text.isdecimal() and len(text) <= 4 and int(text) <= min(line.left, MAX_QUANTITY)):
            raise FieldRefused(
                line.field,
                f"Return from 0 to {line.left} of {line.line.name} ({line.line.sku}).",
            )
        if int(text) > 0:
            chosen.append((line, int(text)))
    if not chosen:
        first = next((line.field for line in lines if line.left > 0), "")
        raise FieldRefused(first, "Say how many of which item come back.")
    return chosen


# Which field a refused return is about, by the error's code ("": the whole form).
RETURN_FIELDS: dict[str, str] = {
    CommerceErrorCode.NOT_RETURNABLE: "",
    CommerceErrorCode.TENDER_MISMATCH: "",
}


@router.post("/{order_id}/return")
def take_return(
    order_id: UUID, request: Request, session: DbSession, user: Taker, form: CheckedForm
) -> Response:
    order = orders.get(session, order_id=order_id)
    store = store_of(session, user, forms.text(form, "location", required=False) or None)
    told: list[str] = []

    def take() -> None:
        lines = _lines(session, orders.views(session, [order])[0])
        chosen = _chosen(form, lines)
        received = returns.receive(
            session,
            actor=user.actor,
            counter=counter_of(user.actor, channel=Channel.POS, location=store.code),
            order_id=order.id,
            items=[returns.ReturnRequest(line.line.sku, quantity) for line, quantity in chosen],
            reason=forms.text(form, "reason", required=False)[:500] or None,
        )
        refund = money(received.received.refund_total, order.currency)
        units = sum(quantity for _, quantity in chosen)
        told.append(f"Return of {units} item{'' if units == 1 else 's'} taken: {refund} refunded.")

    refused = forms.run(session, take)
    if refused is not None:
        session.expire_all()  # drawn from the state before the refused attempt
        return order_page(
            request,
            session,
            user,
            orders.get(session, order_id=order_id),
            refused=forms.refusal(RETURN_FORM, form, refused, RETURN_FIELDS),
        )
    return RedirectResponse(
        f"/console/orders/{order.id}?{urlencode({'done': told[0]})}#returns", status_code=303
    )
