"""The hub's history as interactions, read through the other domains' read-only export
functions (as analytics reads it): order lines on every channel (tills, web, app) and the
product events channels sent (``Product Viewed``, ``Product Added``). Merged profiles
count as one person: the profile that survives them."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from omnikanal.auth.models import Channel
from omnikanal.commerce import warehouse as commerce_warehouse
from omnikanal.customers import warehouse as customers_warehouse
from omnikanal.events import warehouse as events_warehouse
from omnikanal.recommendations.training import CART, PURCHASE, VIEW, Builder, Interactions

CHUNK = 20_000
EVENT_KINDS = {"Product Viewed": VIEW, "Product Added": CART}
# Till sales are the store's; every other channel's orders are online ones.
STORE_CHANNELS = frozenset({Channel.POS})
CANCELLED = "cancelled"


def live_of(links: list[dict[str, str]]) -> Callable[[str], str]:
    """A merged-away profile id -> the profile that survives it, however long the chain."""
    parent = {link["profile_id"]: link["merged_into"] for link in links}

    def follow(profile_id: str) -> str:
        seen = {profile_id}
        while (up := parent.get(profile_id)) is not None and up not in seen:
            seen.add(up)
            profile_id = up
        return profile_id

    return follow


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def read(session: Session, *, progress: Callable[[int], None] | None = None) -> Interactions:
    """Every purchase line and product event of the hub, as interactions."""
    person = live_of(customers_warehouse.merge_links(session))
    builder = Builder()
    seen = 0
    for chunk in commerce_warehouse.rows_for_export(
        session, changed_after=None, changed_until=datetime.now(UTC), chunk=CHUNK
    ):
        orders: dict[str, dict[str, Any]] = {
            order["order_id"]: order
            for order in chunk.orders
            if order["profile_id"] and order["status"] != CANCELLED
        }
        for line in chunk.lines:
            order = orders.get(line["order_id"])
            if order is None:
                continue
            in_store = order["channel"] in STORE_CHANNELS
            builder.add(
                person=person(order["profile_id"]),
                sku=line["sku"],
                kind=PURCHASE,
                at=_utc(order["placed_at"]),
                location=order["location"] or order["pickup_location"],
                online=not in_store,
            )
        seen += len(chunk.lines)
        if progress:
            progress(seen)
    for rows in events_warehouse.product_events(session, names=list(EVENT_KINDS), chunk=CHUNK):
        for profile_id, name, at, sku in rows:
            builder.add(person=person(profile_id), sku=sku, kind=EVENT_KINDS[name], at=at)
        seen += len(rows)
        if progress:
            progress(seen)
    return builder.build()
