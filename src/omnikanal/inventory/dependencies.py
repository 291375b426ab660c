from typing import Annotated

from fastapi import Depends

from omnikanal.auth.dependencies import require_roles
from omnikanal.auth.models import Role
from omnikanal.auth.service import StaffActor
from omnikanal.catalog import service as catalog_service
from omnikanal.catalog.schemas import Sku
from omnikanal.errors import Forbidden
from omnikanal.http import DbSession
from omnikanal.inventory import service
from omnikanal.inventory.models import Location
from omnikanal.inventory.schemas import LocationCode, TransferCreate
from omnikanal.inventory.service import InventoryErrorCode

# Anyone on staff may see stock anywhere (a shop assistant finds the coat in another store).
InventoryReader = Annotated[StaffActor, Depends(require_roles(*Role))]
# Stock changes: the admin (or the ERP's key) anywhere; store staff at their own store.
_StoreOrAdmin = Annotated[StaffActor, Depends(require_roles(Role.STORE))]


def check_may_change_stock_at(actor: StaffActor, location: str) -> None:
    if actor.role is Role.ADMIN:
        return
    if actor.location != location:
        raise Forbidden(
            InventoryErrorCode.LOCATION_NOT_ALLOWED,
            f"This key changes stock at {actor.location or 'no location'} only, not {location}.",
        )


def stock_writer(location: LocationCode, actor: _StoreOrAdmin) -> StaffActor:
    """For paths with ``{location}``: the admin, or store staff of that location."""
    check_may_change_stock_at(actor, location)
    return actor


def valid_location(location: LocationCode, session: DbSession) -> Location:
    return service.location(session, code=location)


def known_sku(sku: Sku, session: DbSession) -> str:
    """A SKU in the catalog (404 product_not_found otherwise)."""
    return catalog_service.product(session, sku=sku).sku


def valid_transfer(
    body: TransferCreate, actor: _StoreOrAdmin, session: DbSession
) -> tuple[TransferCreate, StaffActor]:
    """A transfer by the admin, or by store staff out of their own store, of a SKU in the
    catalog."""
    check_may_change_stock_at(actor, body.from_location)
    catalog_service.product(session, sku=body.sku)
    return body, actor


StockWriter = Annotated[StaffActor, Depends(stock_writer)]
ValidTransfer = Annotated[tuple[TransferCreate, StaffActor], Depends(valid_transfer)]
ValidLocation = Annotated[Location, Depends(valid_location)]
KnownSku = Annotated[str, Depends(known_sku)]
