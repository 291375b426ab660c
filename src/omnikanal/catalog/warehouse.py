"""Products for analytics (read-only): each SKU's category, so rates can be told by
category as well as by SKU."""

from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from omnikanal.catalog.models import Product

_product = cast(Table, Product.__table__)


def categories(session: Session) -> list[dict[str, Any]]:
    query = select(_product.c.sku, _product.c.category)
    return [row._asdict() for row in session.execute(query)]
