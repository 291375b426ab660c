"""The permission matrix: every route says who may call it, docs/permissions.md is what
the code says, and the API refuses every role the matrix leaves out."""

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from omnikanal import demo
from omnikanal.app import create_app
from omnikanal.auth.permissions import CALLERS, PUBLIC, WRITE_KEY, route_permissions
from omnikanal.cli import app as cli
from omnikanal.config import Settings
from omnikanal.uow import unit_of_work
from tests.factories import basic, bearer

DOC = Path(__file__).resolve().parents[2] / "docs" / "permissions.md"


@pytest.fixture(scope="module")
def assembled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    """The app as served, on a database never opened: only its routes are read."""
    folder = tmp_path_factory.mktemp("routes")
    application = create_app(
        Settings(
            database_url=f"sqlite:///{folder / 'routes.sqlite3'}",
            data_dir=folder,
            embedded_worker=False,
            nats_url=None,
        )
    )
    yield application
    application.state.ingest_writer.close()
    application.state.engine.dispose()


def _undeclared(application: FastAPI) -> list[str]:
    return [
        f"{' '.join(p.methods)} {p.path}"
        for p in route_permissions(application)
        if p.callers is None
    ]


def test_every_route_declares_who_may_call_it(assembled: FastAPI) -> None:
    assert _undeclared(assembled) == []
    found = {(p.methods, p.path): p.callers for p in route_permissions(assembled)}
    assert found[("GET",), "/v1/audit-log"] == frozenset({"admin"})
    assert found[("POST",), "/v1/track"] == frozenset({WRITE_KEY})
    assert found[("GET",), "/health"] == frozenset({PUBLIC})
    assert found[("*",), "/console/static/{path}"] == frozenset({PUBLIC})
    # A console page narrowed to agents: its role check and the sign-in check agree.
    assert found[("GET",), "/console/inbox"] == frozenset({"admin", "agent"})
    assert all(callers and callers <= set(CALLERS) for callers in found.values())


def test_a_route_that_declares_nobody_is_found(assembled: FastAPI) -> None:
    stray = APIRouter()

    @stray.get("/v1/stray")
    def stray_route() -> dict[str, str]:
        return {}

    assembled.include_router(stray)
    try:
        assert _undeclared(assembled) == ["GET /v1/stray"]
    finally:
        assembled.router.routes.pop()


def test_docs_permissions_md_is_what_the_code_says(tmp_path: Path) -> None:
    out = tmp_path / "permissions.md"
    result = CliRunner().invoke(cli, ["permissions", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8") == DOC.read_text(encoding="utf-8"), (
        "docs/permissions.md is out of date: run `omnikanal permissions`"
    )
    assert "| GET | `/v1/audit-log` | ✓ |" in DOC.read_text(encoding="utf-8")


# Known values for the path parameters a route looks up before it checks the caller
# (stock at a location of the demo's, of a SKU in its catalog); ids are random.
DEMO_VALUES = {"location": "gbg-avenyn", "code": "gbg-avenyn", "sku": "SCARF-MERINO-RED"}
DEMO_KEYS = {
    "admin": "sk_demo_admin",
    "agent": "sk_demo_agent",
    "store": "sk_demo_store",
    "marketer": "sk_demo_marketer",
    "analyst": "sk_demo_analyst",
    "channel": "sk_demo_web",
}


def _example_path(path: str) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(1).split(":")[0]
        return DEMO_VALUES.get(name) or str(uuid.uuid4())

    return re.sub(r"\{([^}]+)\}", fill, path)


def test_the_api_refuses_every_caller_the_matrix_leaves_out(
    client: TestClient, session_factory: sessionmaker[Session], assembled: FastAPI
) -> None:
    with unit_of_work(session_factory) as session:
        demo.load(session)
    keys = {role: bearer(secret) for role, secret in DEMO_KEYS.items()}
    keys[WRITE_KEY] = basic("wk_demo_web")
    keys[PUBLIC] = {}
    checked = 0
    for permission in route_permissions(assembled):
        callers = permission.callers
        # Public routes answer anyone, with or without a key.
        if not permission.path.startswith("/v1") or callers is None or PUBLIC in callers:
            continue
        for method in permission.methods:
            for caller, headers in keys.items():
                if caller in callers:
                    continue
                response = client.request(
                    method, _example_path(permission.path), headers=headers, json={}
                )
                assert response.status_code in (401, 403), (
                    f"{caller} got {response.status_code} for {method} {permission.path}"
                )
                checked += 1
    assert checked > 300
