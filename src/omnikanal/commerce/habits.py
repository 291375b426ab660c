"""What a person's orders say about them (S9): favourite store, favourite products, the
usual time they order and the channel they prefer. Kept on the profile as computed traits
for personal offers and audiences, refreshed whenever they order or two profiles merge."""

from collections import Counter
from collections.abc import Sequence
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from omnikanal.commerce import repository
from omnikanal.commerce.models import Order, OrderLine, OrderStatus
from omnikanal.config import Settings
from omnikanal.customers import service as customers_service

# Enough history to tell a habit, however long the person has shopped.
RECENT_ORDERS = 200


def habits(orders: Sequence[Order], lines: Sequence[OrderLine], zone: ZoneInfo) -> dict[str, Any]:
    """Pure: the habits in these orders (none cancelled) and their lines."""
    kept = [o for o in orders if o.status != OrderStatus.CANCELLED]
    kept_ids = {o.id for o in kept}
    stores = Counter(
        o.pickup_location or o.location for o in kept if o.pickup_location or o.location
    )
    channels = Counter(o.channel for o in kept)
    hours = Counter(o.placed_at.astimezone(zone).hour for o in kept)
    units: Counter[str] = Counter()
    for line in lines:
        if line.order_id in kept_ids:
            units[line.sku] += line.quantity
    hour = _most(hours)
    last = max((o.placed_at for o in kept), default=None)
    return {
        "orders": len(kept),
        "favourite_store": _most(stores),
        "favourite_products": [sku for sku, _ in units.most_common(3)],
        "usual_order_time": f"{hour:02d}:00-{(hour + 1) % 24:02d}:00" if hour is not None else None,
        "preferred_channel": _most(channels),
        "last_order_at": last.isoformat() if last else None,
    }


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
    settings: Settings = session.info.get("settings") or Settings()
    found = habits(orders, lines, ZoneInfo(settings.timezone))
    customers_service.update_computed_traits(session, profile_id=live, traits=found)
    return found
