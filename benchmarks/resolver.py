"""The resolver's own rate: placing appended messages with their people, in-process.

What it measures: the workload of ``ingest.py`` (by default 100,000 messages from 20,000
people on web, app and a store's tills) is appended to the inbox through the app's own
append path (``events.service.append``, the ingest writer's call), untimed. Then the
clock runs while ``Resolver.drain()`` places every message with its person, in batches of
``--batch-size`` (the server's default) per transaction, as the server's resolver thread
does, with the relay running the handlers of what the batches recorded (merges).

Beside it, the reference measured in the same run on the same database: the same event
rows inserted raw, ``--batch-size`` rows per transaction, into a scratch table with
``events_event``'s columns and indexes (sqlite3 / psycopg 3 ``executemany``). The target
is at least 15,000 messages/s on SQLite (issue 13).

``--profile`` runs the drain under pyinstrument and prints where the time goes.

Run from the project root:

    .venv/bin/python benchmarks/resolver.py                      # both databases
    .venv/bin/python benchmarks/resolver.py --database sqlite --events 20000 --profile
"""

import argparse
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from _server import (
    DATABASE_CHOICES,
    DEFAULT_PG_URL,
    Database,
    connect_postgres,
    connect_sqlite,
    console,
    create_source,
    exit_cleanly_on_sigterm,
    fetch,
    fresh_database,
    print_table,
    progress_bar,
    selected_kinds,
    upgrade,
)
from ingest import (
    COLUMNS,
    SCRATCH,
    STORE,
    Workload,
    _sqlite_value,
    build_workload,
    event_rows,
)
from omnikanal.auth.service import authenticate_source
from omnikanal.config import Settings
from omnikanal.db import make_engine, make_session_factory
from omnikanal.events import service
from omnikanal.events.resolver import Resolver
from omnikanal.events.service import IngestJob, ValidMessage
from omnikanal.kit.time import utcnow
from omnikanal.outbox.relay import Relay
from omnikanal.wiring import build_registry

TARGET_SQLITE = 15_000
# Request bodies appended per transaction while filling the inbox (not timed).
BODIES_PER_APPEND = 20


@dataclass(frozen=True)
class Measured:
    resolved: int
    seconds: float
    # This process's CPU time during the drain: steadier than the wall time on a shared
    # machine (PostgreSQL's own work is not in it).
    cpu_seconds: float
    reference_seconds: float
    stored_rows: int
    profile: str | None


# -- filling the inbox --


def _jobs(bodies: Sequence[tuple[str, bytes, int]], sources: dict[str, Any]) -> Iterator[IngestJob]:
    """Each request body as the ingest route makes it: its messages validated."""
    for channel, body, _ in bodies:
        parsed = orjson.loads(body)
        received_at = utcnow()
        valid: list[ValidMessage] = []
        for index, raw in enumerate(parsed["batch"]):
            checked = service.validate(raw, index, small=True, received_at=received_at)
            assert isinstance(checked, ValidMessage), checked
            valid.append(checked)
        yield IngestJob(source=sources[channel], messages=valid, received_at=received_at)


def fill_inbox(factory: Any, workload: Workload, keys: dict[str, str]) -> None:
    with factory() as session:
        sources = {c: authenticate_source(session, write_key=k) for c, k in keys.items()}
    jobs = list(_jobs(workload.bodies, sources))
    with progress_bar() as progress:
        task = progress.add_task("append to the inbox (untimed)", total=len(workload.messages))
        for at in range(0, len(jobs), BODIES_PER_APPEND):
            group = jobs[at : at + BODIES_PER_APPEND]
            with factory() as session, session.begin():
                outcomes = service.append(session, group)
            assert sum(o.stored for o in outcomes) == sum(len(j.messages) for j in group)
            progress.advance(task, sum(len(j.messages) for j in group))


# -- the reference: the same rows, inserted raw --


def _chunks(rows: Sequence[tuple[Any, ...]], size: int) -> Iterator[Sequence[tuple[Any, ...]]]:
    for at in range(0, len(rows), size):
        yield rows[at : at + size]


def sqlite_reference(database: Database, workload: Workload, batch_size: int) -> float:
    connection = connect_sqlite(database.sqlite_path())
    schema = connection.execute(
        "SELECT sql FROM sqlite_master WHERE tbl_name = 'events_event' AND sql IS NOT NULL"
    ).fetchall()
    for (statement,) in schema:
        connection.execute(statement.replace("events_event", SCRATCH))
    rows = [tuple(_sqlite_value(row[c]) for c in COLUMNS) for row in event_rows(workload)]
    sql = f"INSERT INTO {SCRATCH} ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
    try:
        started = time.perf_counter()
        for chunk in _chunks(rows, batch_size):
            connection.execute("BEGIN IMMEDIATE")
            connection.executemany(sql, chunk)
            connection.execute("COMMIT")
        return time.perf_counter() - started
    finally:
        connection.close()


def postgres_reference(database: Database, workload: Workload, batch_size: int) -> float:
    with connect_postgres(database, autocommit=True) as connection:
        connection.execute(f"CREATE TABLE {SCRATCH} (LIKE events_event INCLUDING ALL)")
        rows = [tuple(row[c] for c in COLUMNS) for row in event_rows(workload)]
        values = ", ".join("%s::jsonb" if c == "message" else "%s" for c in COLUMNS)
        sql = f"INSERT INTO {SCRATCH} ({', '.join(COLUMNS)}) VALUES ({values})"
        started = time.perf_counter()
        for chunk in _chunks(rows, batch_size):
            with connection.transaction(), connection.cursor() as cursor:
                cursor.executemany(sql, chunk)
        return time.perf_counter() - started


# -- one run --


def _drain(resolver: Resolver, profile: bool) -> tuple[int, float, float, str | None]:
    """(rows resolved, wall seconds, CPU seconds of this process, the profile's text)."""
    profiler = None
    if profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.002)
        profiler.start()
    started, cpu_started = time.perf_counter(), time.process_time()
    done = resolver.drain()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    if profiler is None:
        return done, seconds, cpu, None
    profiler.stop()
    return done, seconds, cpu, profiler.output_text(color=False, show_all=False)


def measure(database: Database, workload: Workload, batch_size: int, profile: bool) -> Measured:
    upgrade(database)
    keys = {
        "web": create_source(database, "Web", "web"),
        "app": create_source(database, "App", "app"),
        "pos": create_source(database, "Tills Stockholm", "pos", STORE),
    }
    settings = Settings(database_url=database.url, resolver_batch_size=batch_size)
    registry = build_registry()
    engine = make_engine(database.url)
    try:
        factory = make_session_factory(engine, settings=settings, registry=registry)
        fill_inbox(factory, workload, keys)
        relay = Relay(session_factory=factory, settings=settings, registry=registry)
        resolver = Resolver(factory, after_commit=relay.run_handlers, batch_size=batch_size)
        with console.status(f"resolver: draining the inbox ({database.kind})"):
            resolved, seconds, cpu, report = _drain(resolver, profile)
    finally:
        engine.dispose()
    ((stored,),) = fetch(database, "SELECT count(*) FROM events_event")
    reference = sqlite_reference if database.kind == "sqlite" else postgres_reference
    with console.status("reference: raw insert of the same rows"):
        reference_seconds = reference(database, workload, batch_size)
    return Measured(resolved, seconds, cpu, reference_seconds, int(stored), report)


def report(kind: str, workload: Workload, batch_size: int, measured: Measured) -> None:
    events = len(workload.messages)
    resolved_rate = measured.resolved / measured.seconds
    reference_rate = events / measured.reference_seconds
    how = "sqlite3" if kind == "sqlite" else "psycopg"
    if kind == "sqlite":
        met = resolved_rate >= TARGET_SQLITE
        verdict = " [green]met[/green]" if met else " [red]missed[/red]"
        target = f"target ≥ {TARGET_SQLITE:,}/s"
    else:
        verdict, target = "", "(no target set)"
    print_table(
        f"Resolver on {kind}: {events:,} messages, {batch_size:,} per transaction",
        [
            ("resolved messages/s (Resolver.drain)", f"{resolved_rate:,.0f}{verdict}", target),
            (
                "reference: raw insert rows/s",
                f"{reference_rate:,.0f}",
                f"{how} executemany, {batch_size:,}-row txns, events_event's indexes",
            ),
            ("resolved / reference", f"{resolved_rate / reference_rate:.1%}", ""),
            (
                "resolver CPU (this process)",
                f"{measured.cpu_seconds:.1f} s",
                f"{measured.resolved / measured.cpu_seconds:,.0f} messages per CPU second",
            ),
            (
                "wall time",
                f"{measured.seconds:.1f} s",
                f"reference {measured.reference_seconds:.1f} s",
            ),
            (
                "inbox rows taken / events stored",
                f"{measured.resolved:,} / {measured.stored_rows:,}",
                f"expected {events:,} / {events:,}",
            ),
        ],
    )
    if measured.profile:
        console.print(measured.profile, markup=False, highlight=False)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--database", choices=DATABASE_CHOICES, default="both")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument(
        "--batch-size",
        type=int,
        default=Settings.model_fields["resolver_batch_size"].default,
        help="inbox rows per resolver transaction",
    )
    parser.add_argument("--profile", action="store_true", help="profile the drain (pyinstrument)")
    parser.add_argument(
        "--pg-url", default=DEFAULT_PG_URL, help="a PostgreSQL server to create a database on"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    exit_cleanly_on_sigterm()
    args = parse_args(argv)
    kinds = selected_kinds(args.database, args.pg_url)
    workload = build_workload(args.events, args.people)
    ok = True
    for kind in kinds:
        with fresh_database(kind, args.pg_url) as database:
            measured = measure(database, workload, args.batch_size, args.profile)
        report(kind, workload, args.batch_size, measured)
        expected = len(workload.messages)
        ok = ok and measured.resolved == expected and measured.stored_rows == expected
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
