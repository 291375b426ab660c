"""Finding a product by name, SKU or barcode, with its price and its stock in every
location: what store staff and agents answer "do you have it, and what does it cost?"
with (S5, S17)."""

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from omnikanal.auth.models import Channel, Role
from omnikanal.catalog import service as catalog_service
from omnikanal.catalog.models import Product
from omnikanal.console.dependencies import require_console_roles
from omnikanal.console.pages import render
from omnikanal.console.service import SignedIn
from omnikanal.errors import OmnikanalError
from omnikanal.http import DbSession
from omnikanal.inventory import service as inventory_service
from omnikanal.inventory.service import LocationStock

router = APIRouter(prefix="/products")

Reader = Annotated[SignedIn, Depends(require_console_roles(Role.AGENT, Role.STORE))]

PRODUCT_PAGE = 20


@dataclass(frozen=True)
class Priced:
    currency: str
    list_price: int
    # What the channel charges now (a promotion in); the list price when none applies.
    unit_price: int
    promotion: str | None


@dataclass(frozen=True)
class Found:
    product: Product
    prices: list[Priced]
    # Every active location; the signed-in person's own store first.
    stock: list[LocationStock]


def _prices(session: Session, product: Product, channel: str) -> list[Priced]:
    found = []
    for listed in catalog_service.current_prices(session, sku=product.sku):
        try:
            quote = catalog_service.price(
                session, sku=product.sku, channel=channel, currency=listed.currency
            )
        except OmnikanalError:  # the price book moved meanwhile: the list price stands
            found.append(Priced(listed.currency, listed.amount, listed.amount, None))
            continue
        found.append(
            Priced(listed.currency, quote.list_price, quote.unit_price, quote.promotion_code)
        )
    return found


def _found(session: Session, user: SignedIn, product: Product) -> Found:
    # Store staff sell over the counter; agents answer for the web shop.
    channel = Channel.POS if user.actor.role is Role.STORE else Channel.WEB
    stock = inventory_service.availability(session, sku=product.sku)
    own = user.actor.location
    stock.sort(key=lambda s: (s.location.code != own, s.location.kind != "store", s.location.code))
    return Found(product=product, prices=_prices(session, product, channel), stock=stock)


@router.get("")
def search(
    request: Request,
    session: DbSession,
    user: Reader,
    q: Annotated[str, Query(max_length=catalog_service.MAX_SEARCH_LENGTH)] = "",
    after: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    text = q.strip()
    products = (
        catalog_service.search(session, text=text, after=after, limit=PRODUCT_PAGE + 1)
        if text
        else []
    )
    shown = products[:PRODUCT_PAGE]
    more = (
        "?" + urlencode({"q": text, "after": shown[-1].sku})
        if len(products) > PRODUCT_PAGE
        else None
    )
    return render(
        request,
        "products.html",
        title=f"Products matching {text}" if text else "Find a product",
        user=user,
        q=text,
        found=[_found(session, user, p) for p in shown],
        more=more,
        first_page=after is None,
    )
