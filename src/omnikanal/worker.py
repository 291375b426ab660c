"""The worker: the outbox relay, durable timers and periodic jobs, in one loop.

``omnikanal worker`` runs it alone; ``serve`` embeds it unless told not to. Any number of
workers may run against one database: rows are leased, never held in memory.
"""

import logging

import anyio
import httpx
from sqlalchemy.orm import Session, sessionmaker

from omnikanal.config import Settings
from omnikanal.outbox.registry import HandlerRegistry
from omnikanal.outbox.relay import Relay
from omnikanal.timers.runner import TimerRunner
from omnikanal.uow import unit_of_work

logger = logging.getLogger("omnikanal.worker")


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
        self.registry = registry
        self._last_run: dict[str, float] = {}

    def run_periodic(self, now: float) -> int:
        """Run each periodic job whose interval has passed since this worker last ran it."""
        ran = 0
        for name, (interval, job) in self.registry.periodic_jobs().items():
            last = self._last_run.get(name)
            if last is not None and now - last < interval.total_seconds():
                continue
            self._last_run[name] = now
            try:
                with unit_of_work(self.session_factory, after_commit=self.relay.run_handlers) as s:
                    job(s)
                ran += 1
            except Exception:
                logger.exception("periodic job %s failed; it runs again next interval", name)
        return ran

    async def run_once(self, client: httpx.AsyncClient) -> int:
        """One pass over everything due; returns how much work it found."""
        done = await self.relay.run_once(client)
        done += await anyio.to_thread.run_sync(self.timers.run_due)
        await anyio.to_thread.run_sync(self.run_periodic, anyio.current_time())
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
