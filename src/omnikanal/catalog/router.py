from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from omnikanal.auth.dependencies import AdminKey
from omnikanal.auth.models import Channel
from omnikanal.catalog import repository, service
from omnikanal.catalog.dependencies import CatalogReader, PromotionWriter
from omnikanal.catalog.models import Product
from omnikanal.catalog.schemas import (
    Category,
    Family,
    PriceCreate,
    PriceRead,
    ProductPage,
    ProductRead,
    ProductWrite,
    PromotionCreate,
    PromotionRead,
    QuoteRead,
    Sku,
)
from omnikanal.http import DbSession
from omnikanal.kit.limits import Moment
from omnikanal.kit.money import CurrencyCode
from omnikanal.kit.pagination import PageParams, decode_cursor, encode_cursor, page_params

router = APIRouter(prefix="/v1", tags=["catalog"])


def _read(session: DbSession, product: Product) -> ProductRead:
    return ProductRead.model_validate(
        {
            **{c: getattr(product, c) for c in ProductRead.model_fields if c != "prices"},
            "prices": [
                PriceRead.model_validate(p)
                for p in service.current_prices(session, sku=product.sku)
            ],
        }
    )


@router.get("/products", response_model=ProductPage)
def list_products(
    session: DbSession,
    _: CatalogReader,
    page: Annotated[PageParams, Depends(page_params)],
    category: Annotated[Category | None, Query()] = None,
    family: Annotated[Family | None, Query()] = None,
    q: Annotated[
        str | None,
        Query(
            max_length=service.MAX_SEARCH_LENGTH,
            description="Search: a part of the name or SKU (any case), or the exact barcode.",
        ),
    ] = None,
) -> ProductPage:
    after = decode_cursor(page.cursor) if page.cursor else None
    found = repository.products_page(
        session,
        category=category,
        family=family,
        after=after,
        limit=page.limit + 1,
        text=(q or "").strip() or None,
    )
    shown = found[: page.limit]
    return ProductPage(
        items=[_read(session, p) for p in shown],
        next_cursor=encode_cursor(shown[-1].sku) if len(found) > page.limit else None,
    )


@router.get("/products/{sku}", response_model=ProductRead)
def get_product(sku: Sku, session: DbSession, _: CatalogReader) -> ProductRead:
    return _read(session, service.product(session, sku=sku))


@router.put("/products/{sku}", response_model=ProductRead)
def put_product(
    sku: Sku, body: ProductWrite, session: DbSession, response: Response, _: AdminKey
) -> ProductRead:
    """Create the product or replace its description (201 when created)."""
    product, created = service.upsert_product(session, sku=sku, fields=body.model_dump())
    if created:
        response.status_code = 201
    return _read(session, product)


@router.post("/products/{sku}/prices", status_code=201, response_model=PriceRead)
def add_price(sku: Sku, body: PriceCreate, session: DbSession, _: AdminKey) -> PriceRead:
    """A new list price from ``valid_from`` on; earlier prices stay in the book."""
    price = service.set_price(
        session, sku=sku, currency=body.currency, amount=body.amount, valid_from=body.valid_from
    )
    return PriceRead.model_validate(price)


@router.get("/products/{sku}/price", response_model=QuoteRead)
def get_price(
    sku: Sku,
    session: DbSession,
    _: CatalogReader,
    channel: Channel,
    currency: CurrencyCode,
    at: Annotated[Moment | None, Query(description="Default: now.")] = None,
) -> QuoteRead:
    """The one price: what ``channel`` charges for one unit, promotions and VAT included."""
    quote = service.price(session, sku=sku, channel=channel.value, currency=currency, at=at)
    return QuoteRead.model_validate(quote)


@router.post("/promotions", status_code=201, response_model=PromotionRead)
def create_promotion(
    body: PromotionCreate, session: DbSession, _: PromotionWriter
) -> PromotionRead:
    fields = body.model_dump()
    fields["channels"] = [c.value for c in body.channels]
    return PromotionRead.model_validate(service.create_promotion(session, fields=fields))


@router.get("/promotions", response_model=list[PromotionRead])
def list_promotions(
    session: DbSession,
    _: CatalogReader,
    live_at: Annotated[Moment | None, Query(description="Only those live then.")] = None,
) -> list[PromotionRead]:
    return [
        PromotionRead.model_validate(p) for p in repository.promotions(session, live_at=live_at)
    ]
