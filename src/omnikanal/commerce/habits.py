"""What a person's orders say about them (S9): favourite store, favourite products, the
usual time they order and the channel they prefer. Kept on the profile as computed traits
for personal offers and audiences, refreshed whenever they order or two profiles merge."""

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from omnikanal.commerce import repository
from omnikanal.commerce.models import Order, OrderLine, OrderStatus
from omnikanal.config import settings_of
from omnikanal.customers import service as customers_service

# Enough history to tell a habit, however long the person has shopped.
RECENT_ORDERS = 200
# People refreshed together after an import: a few queries each, memory bounded.
REFRESH_CHUNK = 500


class _Facts(Protocol):
    """What a habit is told from: an order (a row or a fact read for many people)."""

    @property
    def channel(self) -> str: ...
    @property
    def location(self) -> str | None: ...
    @property
    def pickup_location(self) -> str | None: ...
    @property
    def placed_at(self) -> datetime: ...


def habits(orders: Sequence[Order], lines: Sequence[OrderLine], zone: ZoneInfo) -> dict[str, Any]:
    """Pure: the habits in these orders (none cancelled) and their lines."""
    kept = [o for o in orders if o.status != OrderStatus.CANCELLED]
    kept_ids = {o.id for o in kept}
    units: Counter[str] = Counter()
    for line in lines:
        if line.order_id in kept_ids:
            units[line.sku] += line.quantity
    return _summary(kept, units, zone)


def _summary(kept: Sequence[_Facts], units: "Counter[str]", zone: ZoneInfo) -> dict[str, Any]:
    stores = Counter([store for o in kept if (store := o.pickup_location or o.location)])
    channels = Counter([o.channel for o in kept])
    hours = Counter([o.placed_at.astimezone(zone).hour for o in kept])
    hour = _most(hours)
    last = max([o.placed_at for o in kept], default=None)
    # Most units first; ties go to the smallest SKU, as in _most (not to the order the
    # lines were read in, which differs between one person's refresh and many's).
    favourites = sorted(units.items(), key=_most_units_first)[:3]
    return {
        "orders": len(kept),
        "favourite_store": _most(stores),
        "favourite_products": [sku for sku, _ in favourites],
        "usual_order_time": f"{hour:02d}:00-{(hour + 1) % 24:02d}:00" if hour is not None else None,
        "preferred_channel": _most(channels),
        "last_order_at": last.isoformat() if last else None,
    }


def _most_units_first(counted: tuple[str, int]) -> tuple[int, str]:
    sku, units = counted
    return (-units, sku)


def _most(counts: "Counter[Any]") -> Any:
    """The most frequent value; ties go to the smallest, so the answer is stable."""
    if not counts:
        return None
    top = max(counts.values())
    return min(value for value, count in counts.items() if count == top)


def refresh(session: Session, *, profile_id: UUID) -> dict[str, Any]:
    live = customers_service.live_profile(session, profile_id).id
    family = [live, *customers_service.merged_descendants(session, live)]
    orders = repository.orders_of(session, family, before=None, limit=RECENT_ORDERS)
    lines = repository.order_lines(session, [o.id for o in orders])
    settings = settings_of(session)
    found = habits(orders, lines, ZoneInfo(settings.timezone))
    customers_service.update_computed_traits(session, profile_id=live, traits=found)
    return found


def refresh_many(session: Session, *, profile_ids: Sequence[UUID]) -> None:
    """``refresh`` for many people at once, set-based (imported history): their families,
    orders and lines are read in a few queries and their traits written in two. Callers
    pass people in chunks (``REFRESH_CHUNK``): all their orders are held at once."""
    families = customers_service.families(session, profile_ids=sorted(set(profile_ids)))
    if not families:
        return
    members = [member for family in families.values() for member in family]
    # Orders name their profile as text (order_facts): no UUID built per order.
    live_of = {str(member): live for live, family in families.items() for member in family}
    recent: dict[UUID, list[Any]] = {live: [] for live in families}
    for row in repository.order_facts(session, members):  # each profile's newest first
        recent[live_of[row.profile_id]].append(row)
    for live, family in families.items():
        if len(family) > 1:  # merged people: their profiles' orders interleave
            recent[live].sort(key=lambda row: (row.placed_at, row.id), reverse=True)
    # Each person's RECENT_ORDERS most recent orders, as ``refresh`` reads.
    kept = {
        live: [o for o in orders[:RECENT_ORDERS] if o.status != OrderStatus.CANCELLED]
        for live, orders in recent.items()
    }
    person_of = {o.id: live for live, orders in kept.items() for o in orders}
    units: dict[UUID, Counter[str]] = {live: Counter() for live in families}
    for order_id, sku, quantity in repository.unit_facts(session, members):
        person = person_of.get(order_id)
        if person is not None:  # a kept order among the person's most recent ones
            counted = units[person]
            counted[sku] = counted.get(sku, 0) + quantity  # not +=: no __missing__ call
    settings = settings_of(session)
    zone = ZoneInfo(settings.timezone)
    customers_service.update_many_computed_traits(
        session, traits={live: _summary(kept[live], units[live], zone) for live in families}
    )


def refresh_imported(session: Session, *, since: datetime) -> int:
    """``refresh_many`` for everyone whose imported orders were made or extended since
    then (an import's end: its batches' people at once); how many people."""
    people = repository.people_with_imported_orders(session, since=since)
    for at in range(0, len(people), REFRESH_CHUNK):
        refresh_many(session, profile_ids=people[at : at + REFRESH_CHUNK])
    return len(people)
