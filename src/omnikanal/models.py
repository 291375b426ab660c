"""Every domain's tables, imported once so the metadata (and Alembic) sees them all."""

from omnikanal.auth import models as auth_models
from omnikanal.catalog import models as catalog_models
from omnikanal.commerce import models as commerce_models
from omnikanal.console import models as console_models
from omnikanal.conversations import models as conversation_models
from omnikanal.customers import models as customer_models
from omnikanal.db import Base
from omnikanal.events import models as event_models
from omnikanal.experiments import models as experiment_models
from omnikanal.exports import models as export_models
from omnikanal.idempotency import models as idempotency_models
from omnikanal.imports import models as import_models
from omnikanal.inventory import models as inventory_models
from omnikanal.loyalty import models as loyalty_models
from omnikanal.marketing import models as marketing_models
from omnikanal.notifications import models as notification_models
from omnikanal.outbox import models as outbox_models
from omnikanal.privacy import models as privacy_models
from omnikanal.recommendations import models as recommendation_models
from omnikanal.timers import models as timer_models

metadata = Base.metadata

__all__ = [
    "auth_models",
    "catalog_models",
    "commerce_models",
    "console_models",
    "conversation_models",
    "customer_models",
    "event_models",
    "experiment_models",
    "export_models",
    "idempotency_models",
    "import_models",
    "inventory_models",
    "loyalty_models",
    "marketing_models",
    "metadata",
    "notification_models",
    "outbox_models",
    "privacy_models",
    "recommendation_models",
    "timer_models",
]
