"""Which handler answers which event, and which jobs run when: decided here, at the edge.

The app factory, ``omnikanal worker`` and the demo loader build their registry with
``build_registry``; the outbox only carries the registry and knows no domain, so imports
run one way (domains -> plumbing). A new domain adds its ``handlers.register`` below.
"""

from datetime import timedelta

from omnikanal.commerce import handlers as commerce_handlers
from omnikanal.conversations import handlers as conversations_handlers
from omnikanal.events import handlers as events_handlers
from omnikanal.idempotency import service as idempotency_service
from omnikanal.inventory import handlers as inventory_handlers
from omnikanal.loyalty import handlers as loyalty_handlers
from omnikanal.marketing import handlers as marketing_handlers
from omnikanal.notifications import handlers as notifications_handlers
from omnikanal.outbox.registry import HandlerRegistry
from omnikanal.privacy import retention

IDEMPOTENCY_PURGE_INTERVAL = timedelta(hours=1)


def build_registry() -> HandlerRegistry:
    """Every domain's reactions to other domains' events, timers and periodic jobs."""
    registry = HandlerRegistry()
    registry.every("idempotency.purge", IDEMPOTENCY_PURGE_INTERVAL, idempotency_service.purge_job)
    registry.every("privacy.retention", retention.INTERVAL, retention.run_job)
    for register in (
        commerce_handlers.register,
        events_handlers.register,
        inventory_handlers.register,
        loyalty_handlers.register,
        notifications_handlers.register,
        conversations_handlers.register,
        marketing_handlers.register,
    ):
        register(registry)
    return registry
