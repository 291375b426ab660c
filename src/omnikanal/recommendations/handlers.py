"""The worker trains a new model on a schedule (when the served one is a day old)."""

from omnikanal.outbox.registry import HandlerRegistry
from omnikanal.recommendations import service


def register(registry: HandlerRegistry) -> None:
    registry.every("recommendations.train", service.CHECK_INTERVAL, service.train_job)
