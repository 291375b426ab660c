"""Which handler answers which event, and which jobs run when: decided here, at the edge.

The app factory, ``omnikanal worker`` and the demo loader build their registry with
``build_registry``; the outbox only carries the registry and knows no domain, so imports
run one way (domains -> plumbing). A new domain adds its ``handlers.register`` below.
"""

from datetime import timedelta

from omnikanal.analytics import privacy as analytics_privacy
from omnikanal.auth import privacy as auth_privacy
from omnikanal.catalog import privacy as catalog_privacy
from omnikanal.commerce import handlers as commerce_handlers
from omnikanal.commerce import privacy as commerce_privacy
from omnikanal.console import health as console_health
from omnikanal.console import privacy as console_privacy
from omnikanal.conversations import handlers as conversations_handlers
from omnikanal.conversations import privacy as conversations_privacy
from omnikanal.customers import privacy as customers_privacy
from omnikanal.events import handlers as events_handlers
from omnikanal.events import privacy as events_privacy
from omnikanal.experiments import privacy as experiments_privacy
from omnikanal.exports import privacy as exports_privacy
from omnikanal.idempotency import privacy as idempotency_privacy
from omnikanal.idempotency import service as idempotency_service
from omnikanal.imports import handlers as imports_handlers
from omnikanal.imports import privacy as imports_privacy
from omnikanal.inventory import handlers as inventory_handlers
from omnikanal.inventory import privacy as inventory_privacy
from omnikanal.kit.personal_data import PrivacyRegistry
from omnikanal.loyalty import handlers as loyalty_handlers
from omnikanal.loyalty import privacy as loyalty_privacy
from omnikanal.marketing import handlers as marketing_handlers
from omnikanal.marketing import privacy as marketing_privacy
from omnikanal.notifications import handlers as notifications_handlers
from omnikanal.notifications import privacy as notifications_privacy
from omnikanal.outbox import privacy as outbox_privacy
from omnikanal.outbox.registry import HandlerRegistry
from omnikanal.privacy import handlers as privacy_handlers
from omnikanal.privacy import privacy as privacy_privacy
from omnikanal.privacy import retention
from omnikanal.recommendations import handlers as recommendations_handlers
from omnikanal.recommendations import privacy as recommendations_privacy
from omnikanal.timers import privacy as timers_privacy

IDEMPOTENCY_PURGE_INTERVAL = timedelta(hours=1)


def build_registry() -> HandlerRegistry:
    """Every domain's reactions to other domains' events, timers and periodic jobs."""
    registry = HandlerRegistry()
    registry.every("idempotency.purge", IDEMPOTENCY_PURGE_INTERVAL, idempotency_service.purge_job)
    registry.every("privacy.retention", retention.INTERVAL, retention.run_job)
    registry.every("console.worker_beat", console_health.BEAT_INTERVAL, console_health.beat)
    for register in (
        commerce_handlers.register,
        events_handlers.register,
        inventory_handlers.register,
        loyalty_handlers.register,
        notifications_handlers.register,
        conversations_handlers.register,
        marketing_handlers.register,
        imports_handlers.register,
        recommendations_handlers.register,
    ):
        register(registry)
    privacy_handlers.register(registry, build_privacy_registry())
    return registry


def build_privacy_registry() -> PrivacyRegistry:
    """Every domain's part of a person's export and erasure, and the tables it owns; a
    test fails for any table of the schema that no part claims."""
    registry = PrivacyRegistry()
    for register in (
        analytics_privacy.register,
        auth_privacy.register,
        catalog_privacy.register,
        commerce_privacy.register,
        console_privacy.register,
        conversations_privacy.register,
        customers_privacy.register,
        events_privacy.register,
        experiments_privacy.register,
        exports_privacy.register,
        idempotency_privacy.register,
        imports_privacy.register,
        inventory_privacy.register,
        loyalty_privacy.register,
        marketing_privacy.register,
        notifications_privacy.register,
        outbox_privacy.register,
        privacy_privacy.register,
        recommendations_privacy.register,
        timers_privacy.register,
    ):
        register(registry)
    return registry
