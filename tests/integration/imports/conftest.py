"""Imports run as an operator runs them (the command, in-process through Typer's runner)
and as a back end does (an upload the worker runs); read back through the API. Orders are
also imported batch by batch as the import job does (``importer``), in the commerce tests'
retailer."""

import csv
import gzip
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import anyio
import httpx
import orjson
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner, Result

from omnikanal.auth.models import Role
from omnikanal.cli import app as cli
from omnikanal.config import Settings
from omnikanal.imports import service as imports_service
from omnikanal.imports.kinds import BatchOutcome, FinishingKind, ImportKind, ImportOptions
from omnikanal.imports.orders import ORDERS
from omnikanal.inventory import service as inventory_service
from omnikanal.kit.ids import new_id
from omnikanal.kit.time import utcnow
from omnikanal.uow import unit_of_work
from omnikanal.worker import Worker
from tests.factories import bearer, create_secret_key
from tests.integration.commerce.conftest import shop  # noqa: F401  (the commerce retailer)
from tests.integration.marketing.conftest import run_later

IMPORT_TIMERS = (
    imports_service.BATCH_TIMER,
    imports_service.CLEANUP_TIMER,
    imports_service.AFTER_TIMER,
)


def csv_text(header: Sequence[str], rows: Sequence[Sequence[str]], *, delimiter: str = ",") -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def json_lines(rows: Sequence[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(row) + b"\n" for row in rows)


def gzipped(data: bytes) -> bytes:
    return gzip.compress(data)


@dataclass
class Hub:
    """A hub with an admin key, the command line pointed at its database, and the API."""

    client: TestClient
    app: FastAPI
    factory: sessionmaker[Session]
    settings: Settings
    env: dict[str, str]
    admin: dict[str, str]
    folder: Path

    def file(self, name: str, content: str | bytes) -> Path:
        path = self.folder / name
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return path

    def cli(self, *args: str, input: bytes | None = None) -> Result:
        return CliRunner().invoke(cli, ["import", *args], env=self.env, input=input)

    def imported(self, *args: str, input: bytes | None = None, code: int = 0) -> dict[str, Any]:
        """Run ``omnikanal import ARGS``; the job it ran, as the API shows it."""
        result = self.cli(*args, input=input)
        assert result.exit_code == code, result.output
        return self.last_job()

    def last_job(self) -> dict[str, Any]:
        items = self.ok(self.client.get("/v1/imports", headers=self.admin))["items"]
        return dict(items[0])

    def upload(
        self, kind: str, content: bytes, *, filename: str = "file.csv", **fields: Any
    ) -> Any:
        form = {
            "kind": kind,
            **{k: str(v).lower() if isinstance(v, bool) else v for k, v in fields.items()},
        }
        return self.client.post(
            "/v1/imports",
            headers=self.admin,
            files={"file": (filename, content, "application/octet-stream")},
            data=form,
        )

    def run_worker(self) -> None:
        run_later(self.app, rounds=200, kinds=IMPORT_TIMERS)

    def job(self, job_id: str) -> dict[str, Any]:
        return dict(self.ok(self.client.get(f"/v1/imports/{job_id}", headers=self.admin)))

    def errors(self, job_id: str) -> list[dict[str, str]]:
        response = self.client.get(f"/v1/imports/{job_id}/errors", headers=self.admin)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/csv")
        return list(csv.DictReader(io.StringIO(response.text)))

    def profile(self, **query: str) -> dict[str, Any] | None:
        items = self.ok(self.client.get("/v1/profiles", params=query, headers=self.admin))["items"]
        assert len(items) <= 1
        return dict(items[0]) if items else None

    def ok(self, response: Any) -> Any:
        assert response.status_code < 300, response.text
        return response.json()

    def add_location(self, code: str, kind: str = "store") -> None:
        with unit_of_work(self.factory) as session:
            inventory_service.upsert_location(
                session,
                code=code,
                fields={
                    "name": code,
                    "kind": kind,
                    "address": {"city": "Stockholm", "country": "SE"},
                    "latitude": 59.33,
                    "longitude": 18.06,
                },
            )


@pytest.fixture
def hub(
    client: TestClient,
    app: FastAPI,
    session_factory: sessionmaker[Session],
    settings: Settings,
    database_url: str,
    tmp_path: Path,
) -> Hub:
    folder = tmp_path / "files"
    folder.mkdir()
    return Hub(
        client=client,
        app=app,
        factory=session_factory,
        settings=settings,
        env={"OMNIKANAL_DATABASE_URL": database_url, "OMNIKANAL_DATA_DIR": str(settings.data_dir)},
        admin=bearer(create_secret_key(session_factory, role=Role.ADMIN)),
        folder=folder,
    )


class Importer:
    def __init__(self, app: FastAPI) -> None:
        self.app = app
        # The import whose batches run with ``last=False`` until ``finish``.
        self.unfinished: UUID | None = None

    def _options(self, options: dict[str, Any]) -> ImportOptions:
        if self.unfinished is None:
            self.unfinished = new_id()
        return ImportOptions(**options, import_id=self.unfinished)

    def apply(
        self,
        rows: Sequence[Mapping[str, str]],
        *,
        first_row: int = 1,
        kind: ImportKind = ORDERS,
        last: bool = True,
        **options: Any,
    ) -> BatchOutcome:
        """A batch in its own transaction, as the job runs it; ``last``: the import's last
        batch (an import of one batch by default), so the kind's ``finish`` follows in the
        same transaction, covering everything imported since this batch began."""
        numbered = list(enumerate(rows, start=first_row))
        started = utcnow()
        factory = self.app.state.session_factory
        with unit_of_work(factory, after_commit=self.app.state.relay.run_handlers) as session:
            outcome = kind.apply(session, numbered, options=self._options(options))
            if last and isinstance(kind, FinishingKind):
                kind.finish(session, options=self._options(options), since=started)
        if last:
            self.unfinished = None
        return outcome

    def finish(self, *, since: datetime, kind: ImportKind = ORDERS, **options: Any) -> None:
        """The end of an import whose batches ran with ``last=False`` since ``since``."""
        factory = self.app.state.session_factory
        with unit_of_work(factory, after_commit=self.app.state.relay.run_handlers) as session:
            assert isinstance(kind, FinishingKind)
            kind.finish(session, options=self._options(options), since=since)
        self.unfinished = None

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
