"""The edge hands serve, the worker and the demo one registry holding every domain's wiring."""

from fastapi import FastAPI

from omnikanal.config import Settings
from omnikanal.marketing import campaigns, lifecycle, messages, triggers
from omnikanal.wiring import build_registry
from omnikanal.worker import Worker

PERIODIC = {
    "idempotency.purge",
    "commerce.cancel_uncollected",
    "inventory.expire_reservations",
    "loyalty.expire_points",
}
# One stable handler name per domain that reacts to events.
HANDLERS = (
    "commerce.refresh_habits",
    "conversations.merge_conversations",
    "events.follow_merge",
    "loyalty.earn_points",
    "marketing.schedule_abandoned_cart",
    "notifications.order_ready",
)
TIMERS = (
    triggers.ABANDONED_CART,
    lifecycle.POST_PURCHASE,
    lifecycle.WIN_BACK,
    messages.DELIVER,
    campaigns.SEND,
)


def test_the_edge_wires_every_domain() -> None:
    registry = build_registry()
    assert PERIODIC <= set(registry.periodic_jobs())
    assert [name for name in HANDLERS if registry.get(name) is None] == []
    assert [kind for kind in TIMERS if registry.timer_handler(kind) is None] == []


def test_serve_and_its_worker_run_every_periodic_job(app: FastAPI, settings: Settings) -> None:
    registry = app.state.registry
    assert set(registry.periodic_jobs()) == set(build_registry().periodic_jobs())
    worker = Worker(session_factory=app.state.session_factory, settings=settings, registry=registry)
    # A failing job is logged and not counted, so every job ran cleanly on this database.
    assert worker.run_periodic(0.0) == len(registry.periodic_jobs())
