"""Which implementation imports each kind."""

from omnikanal.imports.customers import CUSTOMERS
from omnikanal.imports.kinds import ImportKind
from omnikanal.imports.prices import PRICES
from omnikanal.imports.products import PRODUCTS
from omnikanal.imports.stock import STOCK

# Every kind the command line and the API name, registered or not yet.
KIND_NAMES = ("customers", "products", "prices", "stock", "orders")

KINDS: dict[str, ImportKind] = {kind.name: kind for kind in (CUSTOMERS, PRODUCTS, PRICES, STOCK)}

# -- the orders kind --
# Historical orders (``omnikanal.imports.orders.ORDERS``) register here:
#     from omnikanal.imports.orders import ORDERS
#     KINDS[ORDERS.name] = ORDERS


def kind(name: str) -> ImportKind | None:
    return KINDS.get(name)
