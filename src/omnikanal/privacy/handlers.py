"""The worker runs erasure jobs: one timer firing per step (``erasure.py``)."""

from functools import partial

from omnikanal.kit.personal_data import PrivacyRegistry
from omnikanal.outbox.registry import HandlerRegistry
from omnikanal.privacy import erasure


def register(registry: HandlerRegistry, privacy: PrivacyRegistry) -> None:
    registry.on_timer(erasure.STEP, partial(erasure.step_fired, registry=privacy))
