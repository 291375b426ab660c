"""Which implementation imports each kind."""

from omnikanal.imports.customers import CUSTOMERS
from omnikanal.imports.kinds import ImportKind
from omnikanal.imports.orders import ORDERS
from omnikanal.imports.prices import PRICES
from omnikanal.imports.products import PRODUCTS
from omnikanal.imports.stock import STOCK

KINDS: dict[str, ImportKind] = {
    kind.name: kind for kind in (CUSTOMERS, PRODUCTS, PRICES, STOCK, ORDERS)
}
# Every kind the command line and the API name.
KIND_NAMES = tuple(KINDS)


def kind(name: str) -> ImportKind | None:
    return KINDS.get(name)
