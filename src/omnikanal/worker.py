"""The worker: the outbox relay, durable timers and housekeeping, in one loop.

``omnikanal worker`` runs it alone; ``serve`` embeds it unless told not to. Any number of
workers may run against one database: rows are leased, never held in memory.
"""

import logging
from datetime import timedelta

import anyio
import httpx
from sqlalchemy.orm import Session, sessionmaker

from omnikanal.config import Settings
from omnikanal.idempotency import service as idempotency_service
from omnikanal.outbox.registry import HandlerRegistry
from omnikanal.outbox.relay import Relay
from omnikanal.timers.runner import TimerRunner
from omnikanal.uow import unit_of_work

logger = logging.getLogger("omnikanal.worker")

HOUSEKEEPING_EVERY = timedelta(hours=1)


class Worker:
    def __init__(
        self,
        *,
        session_factory: sessionmaker[Session],
        settings: Settings,
        registry: HandlerRegistry,
    ) -> None:
        self.session_factory = session_factory
        self.settings = settings
        self.relay = Relay(session_factory=session_factory, settings=settings, registry=registry)
        self.timers = TimerRunner(
            session_factory=session_factory,
            registry=registry,
            max_attempts=settings.delivery_max_attempts,
            after_commit=self.relay.run_handlers,
        )
        self._last_housekeeping: float | None = None

    def housekeeping(self) -> None:
        with unit_of_work(self.session_factory) as session:
            ttl = timedelta(hours=max(self.settings.idempotency_ttl_hours, 24))
            purged = idempotency_service.purge_expired(session, older_than=ttl)
        if purged:
            logger.info("purged %d expired idempotency records", purged)

    async def run_once(self, client: httpx.AsyncClient) -> int:
        """One pass over everything due; returns how much work it found."""
        done = await self.relay.run_once(client)
        done += await anyio.to_thread.run_sync(self.timers.run_due)
        now = anyio.current_time()
        last = self._last_housekeeping
        if last is None or now - last >= HOUSEKEEPING_EVERY.total_seconds():
            self._last_housekeeping = now
            await anyio.to_thread.run_sync(self.housekeeping)
        return done

    async def run(self, stop: anyio.Event) -> None:
        async with httpx.AsyncClient() as client:
            try:
                while not stop.is_set():
                    try:
                        done = await self.run_once(client)
                    except Exception:
                        logger.exception("worker pass failed; trying again")
                        done = 0
                    if done == 0:
                        with anyio.move_on_after(self.settings.worker_poll_seconds):
                            await stop.wait()
            finally:
                await self.relay.close()
