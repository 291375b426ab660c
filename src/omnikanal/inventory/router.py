from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from omnikanal.auth.dependencies import AdminKey
from omnikanal.catalog.schemas import Sku
from omnikanal.http import DbSession
from omnikanal.inventory import service
from omnikanal.inventory.dependencies import (
    InventoryReader,
    KnownSku,
    StockWriter,
    ValidLocation,
    ValidTransfer,
)
from omnikanal.inventory.schemas import (
    AdjustmentCreate,
    AdjustmentRead,
    AvailabilityRead,
    CountCreate,
    LocationAvailability,
    LocationCode,
    LocationKind,
    LocationList,
    LocationRead,
    LocationWrite,
    NearbyList,
    NearbyLocationRead,
    NewLocationCode,
    StockDetailRead,
    StockPage,
    StockRead,
    TransferRead,
)
from omnikanal.inventory.service import StockLevel
from omnikanal.kit.pagination import PageParams, decode_cursor, encode_cursor, page_params

locations_router = APIRouter(prefix="/v1/locations", tags=["locations"])
router = APIRouter(prefix="/v1", tags=["inventory"])

RECENT_ADJUSTMENTS = 20


def _stock(level: StockLevel) -> StockRead:
    return StockRead.model_validate(level)


def _detail(session: DbSession, location: str, sku: str, recent: int) -> StockDetailRead:
    detail = service.stock_detail(session, location=location, sku=sku, recent=recent)
    return StockDetailRead(
        **_stock(detail.stock).model_dump(),
        adjustments=[AdjustmentRead.model_validate(a) for a in detail.adjustments],
    )


@locations_router.get("", response_model=LocationList)
def list_locations(
    session: DbSession,
    _: InventoryReader,
    kind: LocationKind | None = None,
    pickup: Annotated[bool | None, Query(description="Only those offering pickup.")] = None,
) -> LocationList:
    """The active stores and warehouses, by code."""
    found = service.locations(session, kind=kind, pickup=pickup)
    return LocationList(items=[LocationRead.model_validate(f) for f in found])


@locations_router.get("/nearby", response_model=NearbyList)
def nearby_locations(
    session: DbSession,
    _: InventoryReader,
    lat: Annotated[float, Query(ge=-90, le=90, description="Latitude, degrees.")],
    lon: Annotated[float, Query(ge=-180, le=180, description="Longitude, degrees.")],
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    pickup: Annotated[bool, Query(description="Only those offering pickup.")] = False,
    sku: Annotated[Sku | None, Query(description="Also tell the units available.")] = None,
) -> NearbyList:
    """The active locations nearest a point, nearest first (great-circle distance)."""
    found = service.nearby(
        session, latitude=lat, longitude=lon, limit=limit, pickup_only=pickup, sku=sku
    )
    return NearbyList(
        items=[
            NearbyLocationRead(
                **LocationRead.model_validate(n.location).model_dump(),
                distance_km=round(n.distance_km, 3),
                available=n.available,
            )
            for n in found
        ]
    )


@locations_router.get("/{code}", response_model=LocationRead)
def get_location(code: LocationCode, session: DbSession, _: InventoryReader) -> LocationRead:
    return LocationRead.model_validate(service.location(session, code=code))


@locations_router.put("/{code}", response_model=LocationRead)
def put_location(
    code: NewLocationCode, body: LocationWrite, session: DbSession, response: Response, _: AdminKey
) -> LocationRead:
    """Create the location or replace its description (201 when created)."""
    found, created = service.upsert_location(session, code=code, fields=body.model_dump())
    if created:
        response.status_code = 201
    return LocationRead.model_validate(found)


@router.post("/inventory/transfers", status_code=201, response_model=TransferRead)
def create_transfer(transfer: ValidTransfer, session: DbSession) -> TransferRead:
    """Move units between locations (store staff: out of their own store); 409 and
    nothing moved when fewer are available at the source."""
    body, actor = transfer
    done = service.transfer(
        session,
        sku=body.sku,
        from_location=body.from_location,
        to_location=body.to_location,
        quantity=body.quantity,
        actor=actor.name,
        reference=body.reference,
    )
    return TransferRead(
        sku=done.sku,
        quantity=done.quantity,
        reference=done.reference,
        source=_stock(done.source),
        destination=_stock(done.destination),
    )


@router.get("/inventory/{location}", response_model=StockPage)
def list_stock(
    place: ValidLocation,
    session: DbSession,
    _: InventoryReader,
    page: Annotated[PageParams, Depends(page_params)],
    sku: Annotated[str | None, Query(max_length=64, description="SKUs starting so.")] = None,
) -> StockPage:
    """The location's stock rows, by SKU."""
    after = decode_cursor(page.cursor) if page.cursor else None
    found = service.stock_page(
        session, location=place.code, sku_prefix=sku, after=after, limit=page.limit + 1
    )
    shown = found[: page.limit]
    return StockPage(
        items=[_stock(s) for s in shown],
        next_cursor=encode_cursor(shown[-1].sku) if len(found) > page.limit else None,
    )


@router.get("/inventory/{location}/{sku}", response_model=StockDetailRead)
def get_stock(
    place: ValidLocation,
    sku: KnownSku,
    session: DbSession,
    _: InventoryReader,
    adjustments: Annotated[
        int, Query(ge=0, le=500, description="How many of the latest adjustments.")
    ] = RECENT_ADJUSTMENTS,
) -> StockDetailRead:
    """On hand, reserved, allocated and available, with the latest adjustments."""
    return _detail(session, place.code, sku, adjustments)


@router.post(
    "/inventory/{location}/{sku}/adjustments", status_code=201, response_model=StockDetailRead
)
def create_adjustment(
    actor: StockWriter,
    place: ValidLocation,
    sku: KnownSku,
    body: AdjustmentCreate,
    session: DbSession,
) -> StockDetailRead:
    """Units received, sold, returned or damaged; taking more than is available is 409."""
    service.adjust(
        session,
        location=place.code,
        sku=sku,
        quantity=body.quantity,
        reason=body.reason,
        reference=body.reference,
        actor=actor.name,
    )
    return _detail(session, place.code, sku, RECENT_ADJUSTMENTS)


@router.post("/inventory/{location}/{sku}/count", response_model=StockDetailRead)
def count_stock(
    actor: StockWriter,
    place: ValidLocation,
    sku: KnownSku,
    body: CountCreate,
    session: DbSession,
) -> StockDetailRead:
    """A stock count: on hand becomes what was counted (the difference is an adjustment)."""
    service.count(
        session,
        location=place.code,
        sku=sku,
        counted=body.counted,
        actor=actor.name,
        reference=body.reference,
    )
    return _detail(session, place.code, sku, RECENT_ADJUSTMENTS)


@router.get("/products/{sku}/availability", response_model=AvailabilityRead)
def get_availability(sku: Sku, session: DbSession, _: InventoryReader) -> AvailabilityRead:
    """The SKU at every active location: where it can be had, and how many."""
    return AvailabilityRead(
        sku=sku,
        locations=[
            LocationAvailability(
                location=row.location.code,
                name=row.location.name,
                kind=row.location.kind,
                offers_pickup=row.location.offers_pickup,
                on_hand=row.stock.on_hand,
                reserved=row.stock.reserved,
                allocated=row.stock.allocated,
                available=row.stock.available,
            )
            for row in service.availability(session, sku=sku)
        ],
    )
