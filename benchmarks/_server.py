"""What the benchmarks share: a fresh database, a real `omnikanal serve`, keys, percentiles.

Not a benchmark itself. The scripts beside it import it as ``_server``: Python puts a
script's own folder first on ``sys.path``, so ``.venv/bin/python benchmarks/ingest.py``
(run from the project root) finds it without any packaging.
"""

import asyncio
import base64
import contextlib
import math
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Literal

import httpx
import orjson
import psycopg
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

DatabaseKind = Literal["sqlite", "postgresql"]
DATABASE_CHOICES = ("sqlite", "postgresql", "both")
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
OMNIKANAL = str(BIN / "omnikanal") if (BIN / "omnikanal").exists() else "omnikanal"

# Piped output (a log, CI) gets room for the tables rather than 80 columns.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 110)


# -- numbers --


def percentile(values: Sequence[float], pct: float) -> float:
    """The nearest-rank percentile (``pct`` in 0..100) of ``values``; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def ms(seconds: float) -> str:
    """Milliseconds, with three decimals below one."""
    millis = seconds * 1000
    return f"{millis:.3f} ms" if millis < 1 else f"{millis:.2f} ms"


def rate(count: float, seconds: float) -> str:
    return f"{count / seconds:,.0f}/s" if seconds > 0 else "-"


def print_table(
    title: str,
    rows: Sequence[tuple[str, str, str]],
    headers: tuple[str, str] = ("measured", "reference"),
) -> None:
    """A heading, then a three-column table: what, measured, its reference."""
    console.print(f"\n[bold]{title}[/bold]")
    table = Table()
    table.add_column("metric")
    table.add_column(headers[0], justify="right")
    table.add_column(headers[1], justify="right")
    for row in rows:
        table.add_row(*row)
    console.print(table)


# -- databases --


@dataclass(frozen=True)
class Database:
    """A fresh, empty database for one run: its kind and its SQLAlchemy URL."""

    kind: DatabaseKind
    url: str

    def sqlite_path(self) -> str:
        path = make_url(self.url).database
        assert path, "an SQLite URL with a file"
        return path

    def psycopg_conninfo(self) -> str:
        return make_url(self.url).set(drivername="postgresql").render_as_string(False)


def connect_sqlite(path: str) -> sqlite3.Connection:
    """A raw connection set up the way the server sets up its own (see omnikanal.db)."""
    connection = sqlite3.connect(path, isolation_level=None, timeout=30)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute("PRAGMA busy_timeout=30000")
    return connection


def connect_postgres(database: Database, *, autocommit: bool = False) -> psycopg.Connection[Any]:
    return psycopg.connect(database.psycopg_conninfo(), autocommit=autocommit)


def query(database: Database, sql: str, *params: Any) -> tuple[list[str], list[tuple[Any, ...]]]:
    """The column names and rows of one query (``?`` placeholders), on a connection of its own."""
    if database.kind == "sqlite":
        connection = sqlite3.connect(database.sqlite_path())
        try:
            found = connection.execute(sql, params)
            return [d[0] for d in found.description], found.fetchall()
        finally:
            connection.close()
    with connect_postgres(database) as pg, pg.cursor() as cursor:
        cursor.execute(sql.replace("?", "%s"), params)
        assert cursor.description is not None
        return [d.name for d in cursor.description], cursor.fetchall()


def fetch(database: Database, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """The rows of one query (``?`` placeholders), on a connection of its own."""
    return query(database, sql, *params)[1]


def postgres_unreachable(pg_url: str) -> str | None:
    """Why the PostgreSQL server cannot be used, or None when it answers."""
    conninfo = make_url(pg_url).set(drivername="postgresql").render_as_string(False)
    try:
        with psycopg.connect(conninfo, connect_timeout=3) as connection:
            connection.execute("SELECT 1")
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"PostgreSQL at {make_url(pg_url).render_as_string(True)} is not reachable: {first}"
    return None


@contextlib.contextmanager
def sqlite_database() -> Iterator[Database]:
    with tempfile.TemporaryDirectory(prefix="omnikanal-bench-") as folder:
        yield Database("sqlite", f"sqlite:///{Path(folder) / 'bench.sqlite3'}")


@contextlib.contextmanager
def postgres_database(pg_url: str) -> Iterator[Database]:
    """A database ``omnikanal_bench_<pid>`` on the server of ``pg_url``, dropped afterwards."""
    name = f"omnikanal_bench_{os.getpid()}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield Database("postgresql", make_url(pg_url).set(database=name).render_as_string(False))
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def exit_cleanly_on_sigterm() -> None:
    """SIGTERM (a timeout, a stopped job) unwinds like Ctrl-C: the server is stopped and the
    PostgreSQL database dropped by the ``finally`` blocks."""

    def stop(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)


def selected_kinds(choice: str, pg_url: str) -> list[DatabaseKind]:
    """The databases to run on; PostgreSQL is skipped when unreachable (fatal when CI=true)."""
    kinds: list[DatabaseKind] = []
    if choice in ("sqlite", "both"):
        kinds.append("sqlite")
    if choice in ("postgresql", "both"):
        reason = postgres_unreachable(pg_url)
        if reason is None:
            kinds.append("postgresql")
        elif os.environ.get("CI", "").lower() == "true":
            console.print(f"[red]error:[/red] {reason} (CI=true, so this fails)")
            raise SystemExit(2)
        else:
            console.print(f"[yellow]skipping PostgreSQL:[/yellow] {reason}")
    return kinds


@contextlib.contextmanager
def fresh_database(kind: DatabaseKind, pg_url: str) -> Iterator[Database]:
    if kind == "sqlite":
        with sqlite_database() as database:
            yield database
    else:
        with postgres_database(pg_url) as database:
            yield database


# -- the command line and the server --


def _env(database: Database) -> dict[str, str]:
    env = dict(os.environ)
    env["OMNIKANAL_DATABASE_URL"] = database.url
    return env


def cli_last_line(database: Database, *args: str) -> str:
    """Run an ``omnikanal`` command against ``database``; its last stdout line (a key)."""
    done = subprocess.run(
        [OMNIKANAL, *args],
        env=_env(database),
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"omnikanal {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip().splitlines()[-1].strip()


def upgrade(database: Database) -> None:
    """Apply the migrations (so sources and keys can be created before the server starts)."""
    cli_last_line(database, "db", "upgrade")


def create_source(database: Database, name: str, channel: str, location: str | None = None) -> str:
    """Create a source; returns its write key."""
    args = ["sources", "create", "--name", name, "--channel", channel]
    if location:
        args += ["--location", location]
    return cli_last_line(database, *args)


def create_key(
    database: Database,
    role: str,
    *,
    name: str | None = None,
    channel: str | None = None,
    location: str | None = None,
) -> str:
    """Create a secret key (a channel's or a store's when given); returns it."""
    args = ["keys", "create", "--role", role, "--name", name or f"bench {role}"]
    if channel:
        args += ["--channel", channel]
    if location:
        args += ["--location", location]
    return cli_last_line(database, *args)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process (all its threads) and of its children alive
    now (``serve --workers N`` runs the API in child processes), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return math.nan
    # After the ")" closing the name: state is field 3, utime 14 and stime 15 (1-based).
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(_cpu_seconds(child) for child in _children(pid))


def _children(pid: int) -> list[int]:
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            children.extend(int(child) for child in task.read_text().split())
        except OSError:
            continue
    return children


# The last line of a traceback in the server's log: "sqlalchemy.exc.TimeoutError: ...".
SERVER_ERROR = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Timeout)\b.*: ")


@dataclass
class Server:
    """A running ``omnikanal serve --no-worker`` process."""

    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path
    _log: IO[bytes] = field(repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu_seconds(self) -> float:
        return _cpu_seconds(self.pid)

    def client(self, connections: int) -> httpx.AsyncClient:
        """Up to ``connections`` keep-alive connections to the server, a 120 s timeout."""
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        return httpx.AsyncClient(base_url=self.base_url, limits=limits, timeout=120)

    def errors(self) -> Counter[str]:
        """The exceptions in the server's log, by their last line (type and message)."""
        found: Counter[str] = Counter()
        for line in self.log_path.read_text(errors="replace").splitlines():
            if SERVER_ERROR.match(line):
                found[line.strip()[:160]] += 1
        return found

    def print_errors(self, most: int = 3) -> None:
        """The most frequent exceptions of its log (kept in a folder removed at the end)."""
        for line, count in self.errors().most_common(most):
            console.print(f"[red]server log:[/red] {count} × {line}", soft_wrap=True)

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited; see {self.log_path}:\n{self._tail()}")
            try:
                if httpx.get(f"{self.base_url}/ready", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the server was not ready in {timeout:.0f} s:\n{self._tail()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()

    def _tail(self, lines: int = 20) -> str:
        self._log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@contextlib.contextmanager
def running_server(
    database: Database,
    log_dir: Path,
    *,
    workers: int = 1,
    resolver: bool = True,
    settings: dict[str, str] | None = None,
) -> Iterator[Server]:
    """Start ``omnikanal serve`` on a free port (it migrates first), with ``workers`` API
    processes, resolving appended events itself unless ``resolver`` is false (then a
    ``running_worker`` resolves them), with more ``OMNIKANAL_*`` ``settings``; stop it
    afterwards."""
    port = free_port()
    log_path = log_dir / f"serve-{database.kind}-{port}.log"
    log = log_path.open("wb")
    options = ["--host", "127.0.0.1", "--port", str(port), "--no-worker"]
    if workers > 1:
        options += ["--workers", str(workers)]
    env = _env(database)
    env["OMNIKANAL_RESOLVER"] = "true" if resolver else "false"
    env.update(settings or {})
    process = subprocess.Popen(
        [OMNIKANAL, "serve", *options],
        env=env,
        cwd=PROJECT_ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = Server(process, f"http://127.0.0.1:{port}", log_path, log)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def running_worker(database: Database, log_dir: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``omnikanal worker`` (the resolver, the relay and timers) in a process of its
    own, as production runs it beside the API; stop it afterwards."""
    log_path = log_dir / f"worker-{database.kind}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [OMNIKANAL, "worker"],
            env=_env(database),
            cwd=PROJECT_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


# -- resolution behind the answers --


def _as_utc(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    moment = datetime.fromisoformat(str(value).replace(" ", "T"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def inbox_lag(database: Database) -> tuple[int, float]:
    """(messages waiting, seconds the oldest has waited), as /ready computes them: two
    look-ups on the inbox's primary key."""
    # One statement, one snapshot: the inbox may empty between two.
    oldest = fetch(
        database,
        "SELECT position, received_at, (SELECT max(position) FROM events_inbox) "
        "FROM events_inbox ORDER BY position LIMIT 1",
    )
    if not oldest:
        return 0, 0.0
    (position, received_at, newest) = oldest[0]
    waited = (datetime.now(UTC) - _as_utc(received_at)).total_seconds()
    return int(newest) - int(position) + 1, max(waited, 0.0)


def wait_until_resolved(database: Database, *, timeout: float = 900.0) -> float:
    """Wait until the resolver has placed every appended message; the seconds it took."""
    started = time.perf_counter()
    with progress_bar() as progress:
        task = progress.add_task("resolver: emptying the inbox", total=None)
        while (waiting := inbox_lag(database)[0]) > 0:
            if time.perf_counter() - started > timeout:
                raise RuntimeError(f"{waiting} messages still unresolved after {timeout:.0f} s")
            progress.update(task, description=f"resolver: {waiting:,} waiting")
            time.sleep(0.25)
    return time.perf_counter() - started


# -- sending batches --


def basic_auth(write_key: str) -> str:
    """Segment's HTTP Basic: the write key as user name, an empty password."""
    return "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()


@dataclass(frozen=True)
class Batch:
    """One prebuilt ``POST /v1/batch`` request: its Authorization header, body and size."""

    authorization: str
    body: bytes
    messages: int


@dataclass
class SendResult:
    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list)
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    failures: list[str] = field(default_factory=list)
    server_cpu: float = math.nan

    @property
    def messages_per_second(self) -> float:
        return self.received / self.elapsed if self.elapsed else math.nan


def progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    )


def _check(response: httpx.Response, batch: Batch, result: SendResult) -> None:
    if response.status_code != 200:
        result.failures.append(f"HTTP {response.status_code}: {response.text[:200]}")
        return
    answer = orjson.loads(response.content)
    received, stored, duplicates = answer["received"], answer["stored"], answer["duplicates"]
    result.received += received
    result.stored += stored
    result.duplicates += duplicates
    if received != batch.messages or stored + duplicates != received or answer["rejected"]:
        result.failures.append(
            f"received {received} of {batch.messages}, stored {stored}, duplicates "
            f"{duplicates}, rejected {answer['rejected'][:1]}"
        )


async def _send_all(
    server: Server,
    batches: Sequence[Batch],
    clients: int,
    progress: Progress,
    task: TaskID,
    rate: float | None,
) -> SendResult:
    queue: asyncio.Queue[Batch] = asyncio.Queue()
    for batch in batches:
        queue.put_nowait(batch)
    result = SendResult()
    sent_messages = 0
    async with server.client(clients) as client:

        async def paced() -> None:
            """At ``rate`` messages/s: wait until the messages sent so far are due."""
            nonlocal sent_messages
            if rate is None:
                return
            due = started + sent_messages / rate
            await asyncio.sleep(max(due - time.perf_counter(), 0.0))

        async def one_client() -> None:
            nonlocal sent_messages
            while True:
                try:
                    batch = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                await paced()
                sent_messages += batch.messages
                headers = {"Authorization": batch.authorization, "Content-Type": "application/json"}
                sent = time.perf_counter()
                try:
                    response = await client.post("/v1/batch", content=batch.body, headers=headers)
                except httpx.HTTPError as exc:
                    result.failures.append(f"{type(exc).__name__}: {exc}")
                    continue
                result.latencies.append(time.perf_counter() - sent)
                _check(response, batch, result)
                progress.advance(task, batch.messages)

        cpu_before = server.cpu_seconds()
        started = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(clients)))
        result.elapsed = time.perf_counter() - started
        result.server_cpu = (server.cpu_seconds() - cpu_before) / result.elapsed
    return result


def send_batches(
    server: Server,
    batches: Sequence[Batch],
    *,
    clients: int,
    description: str,
    rate: float | None = None,
) -> SendResult:
    """Send every batch through ``clients`` concurrent keep-alive connections pulling from
    one queue (at most ``rate`` messages/s when given); timed from the first send to the
    last answer, each answer checked."""
    with progress_bar() as progress:
        task = progress.add_task(description, total=sum(b.messages for b in batches))
        return asyncio.run(_send_all(server, batches, clients, progress, task, rate))


async def run_jobs(
    jobs: Sequence[Callable[[], Awaitable[None]]], clients: int, description: str
) -> float:
    """Run ``jobs`` on ``clients`` concurrent workers pulling from one list; seconds taken."""
    pending = list(reversed(jobs))
    with progress_bar() as progress:
        task = progress.add_task(description, total=len(jobs))

        async def worker() -> None:
            while pending:
                await pending.pop()()
                progress.advance(task)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        return time.perf_counter() - started
