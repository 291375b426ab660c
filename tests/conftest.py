"""Every test runs against SQLite and PostgreSQL.

SQLite: each test gets a copy of a database built once by the migrations. PostgreSQL
(127.0.0.1:5432/test, or OMNIKANAL_TEST_DATABASE_URL): one schema per run, built by the
migrations; every table is emptied after each test. Without a server the PostgreSQL
tests skip, except under CI=true, where they fail.
"""

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from omnikanal import migrate
from omnikanal.app import create_app
from omnikanal.auth import staff as staff_accounts
from omnikanal.config import Settings
from omnikanal.db import Base
from omnikanal.models import metadata
from tests.reading import reading_client

# pytest-xdist's workers set COLUMNS=80, and a Rich console made at import fixes its width
# from it; without it, a CLI test's own COLUMNS (CliRunner's env) decides, as when serial.
os.environ.pop("COLUMNS", None)
os.environ.pop("LINES", None)

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
IN_CI = os.environ.get("CI") == "true"

assert metadata is Base.metadata  # every model is registered before tables are made


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing() -> Iterator[None]:
    """Argon2 at its production cost takes ~0.14 s a hash here, and the console tests sign
    in hundreds of times; the cheapest parameters keep what is tested (hash, verify, lock-out)."""
    production = staff_accounts._hasher
    staff_accounts._hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    yield
    staff_accounts._hasher = production


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    migrate.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    base = os.environ.get("OMNIKANAL_TEST_DATABASE_URL", DEFAULT_PG)
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as exc:
        admin.dispose()
        reason = f"PostgreSQL at {base} does not answer: {str(exc).splitlines()[0]}"
        if IN_CI:
            pytest.fail(f"{reason} (CI=true: PostgreSQL tests must run)")
        pytest.skip(reason)
    schema = f"t_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in base else "?"
    url = f"{base}{separator}options={quote(f'-csearch_path={schema}')}"
    migrate.upgrade(url)
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _empty_all(url: str) -> None:
    """Every table emptied, children first. DELETE, not TRUNCATE: a test fills a few small
    tables, and TRUNCATE of all of them costs 0.2-1.5 s a test (new files for each table)
    against ~10 ms."""
    engine = create_engine(url)
    statements = ";".join(f'DELETE FROM "{t.name}"' for t in reversed(metadata.sorted_tables))
    with engine.begin() as connection:
        connection.exec_driver_sql(statements)
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[str]:
    if request.param == "sqlite":
        path = tmp_path / "omnikanal.sqlite3"
        shutil.copy(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    url: str = request.getfixturevalue("postgres_url")
    try:
        yield url
    finally:
        _empty_all(url)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path,
        embedded_worker=False,
        nats_url=None,
    )


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    application = create_app(settings)
    yield application
    application.state.ingest_writer.close()
    application.state.engine.dispose()


@pytest.fixture
def client(app: FastAPI) -> TestClient:
    """A client that reads its own writes: after each ingest answer it waits until the
    answer's ``Omnikanal-Position`` is resolved (driving the app's resolver until then), as
    a client passing that position to its next read would. Tests of eventual behaviour
    use ``plain_client``.

    Not entered as a context manager: no lifespan, so no embedded worker; tests drive the
    worker themselves when they need it."""
    return reading_client(app, raise_server_exceptions=False)


@pytest.fixture
def plain_client(app: FastAPI) -> TestClient:
    """A client that does not wait for resolution after ingesting."""
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def session_factory(app: FastAPI) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = app.state.session_factory
    return factory


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as db_session:
        yield db_session
