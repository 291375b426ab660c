"""Importing orders: the commerce tests' retailer, and a way to run an import batch as
the import job does (its own transaction, then the in-process handlers of what it
committed) and the worker after it."""

from collections.abc import Mapping, Sequence
from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI

from omnikanal.imports.kinds import BatchOutcome, ImportKind, ImportOptions
from omnikanal.imports.orders import ORDERS
from omnikanal.uow import unit_of_work
from omnikanal.worker import Worker
from tests.integration.commerce.conftest import shop  # noqa: F401  (the commerce retailer)


class Importer:
    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def apply(
        self,
        rows: Sequence[Mapping[str, str]],
        *,
        first_row: int = 1,
        kind: ImportKind = ORDERS,
        **options: Any,
    ) -> BatchOutcome:
        numbered = list(enumerate(rows, start=first_row))
        factory = self.app.state.session_factory
        with unit_of_work(factory, after_commit=self.app.state.relay.run_handlers) as session:
            return kind.apply(session, numbered, options=ImportOptions(**options))

    def run_worker(self) -> None:
        """One pass of the worker: the outbox relay, due timers and periodic jobs."""
        worker = Worker(
            session_factory=self.app.state.session_factory,
            settings=self.app.state.settings,
            registry=self.app.state.registry,
        )

        async def once() -> None:
            async with httpx.AsyncClient() as client:
                await worker.run_once(client)
            await worker.relay.close()

        anyio.run(once)


@pytest.fixture
def importer(app: FastAPI) -> Importer:
    return Importer(app)
