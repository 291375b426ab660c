"""The worker runs uploaded files' jobs, a batch per timer firing (``jobs.py``), deletes
their files once done, does what an ended import leads to (duplicate customers looked for
again), and sweeps away spooled files no job reads."""

from omnikanal.imports import jobs, service
from omnikanal.outbox.registry import HandlerRegistry


def register(registry: HandlerRegistry) -> None:
    registry.on_timer(service.BATCH_TIMER, jobs.batch_fired)
    registry.on_timer(service.CLEANUP_TIMER, jobs.cleanup_fired)
    registry.on_timer(service.AFTER_TIMER, jobs.after_fired)
    registry.every("imports.sweep", jobs.SWEEP_INTERVAL, jobs.sweep)
