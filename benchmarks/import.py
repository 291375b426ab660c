"""Importing order history: the H&M sample's 31,662 purchases as historical orders.

What it measures: the H&M sample (``../shared/data/hm-fashion-sample``; see _hm.py for the
mapping) is set up untimed as customers (one profile per H&M customer, its customer id as
``external_id``, as the orders name it) and products (every article bought, named where
the partial article data has a name), through the services, and its purchases are written
untimed as an orders file in the hub format (CSV). Then the clock runs while the import job
runs as ``omnikanal import orders FILE`` runs it, progress bar included: the file read and
translated, ``--batch-size`` rows per transaction (the hub's default,
``OMNIKANAL_IMPORT_BATCH_ROWS``), each batch's orders found by natural key, people linked
through the identity graph, orders, lines and timeline events inserted in bulk, the job's
counts and position recorded; then, in the last batch's transaction, the buyers' channels
and first/last seen told and their habits recomputed. Only the command's start-up (Python
importing the hub, about 1 s) is left out.

Each of ``--runs`` runs imports into its own copy of the set-up database (a file copy on
SQLite, ``CREATE DATABASE ... TEMPLATE`` on PostgreSQL); the median and the best are
printed, as this machine's speed varies from minute to minute.

Beside it, the reference measured on each run's copy: the same rows (the orders, lines and
timeline events the import wrote) inserted raw into scratch copies of their tables (indexes
included), in as many transactions as the import used (sqlite3 / psycopg 3
``executemany``). Target: **≥ 20,000 order lines/s on SQLite** (issue 15), judged on the
median run.

Run from the project root:

    .venv/bin/python benchmarks/import.py                       # SQLite
    .venv/bin/python benchmarks/import.py --database postgresql
    .venv/bin/python benchmarks/import.py --database both --runs 5 --batch-size 5000
"""

import argparse
import contextlib
import cProfile
import csv
import math
import os
import pstats
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from psycopg.types.json import Jsonb
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

import _hm
from _server import (
    DATABASE_CHOICES,
    DEFAULT_PG_URL,
    Database,
    connect_postgres,
    connect_sqlite,
    console,
    exit_cleanly_on_sigterm,
    fetch,
    fresh_database,
    print_table,
    progress_bar,
    selected_kinds,
)
from omnikanal import migrate
from omnikanal.catalog import service as catalog_service
from omnikanal.config import Settings
from omnikanal.customers import service as customers_service
from omnikanal.customers.identity import EXTERNAL_ID, IdentifierKey
from omnikanal.customers.service import Sighting
from omnikanal.db import make_engine, make_session_factory
from omnikanal.imports import commands as import_commands
from omnikanal.imports import service as import_service
from omnikanal.imports.models import ImportJob, JobSource
from omnikanal.imports.service import ImportRequest
from omnikanal.inventory import service as inventory_service
from omnikanal.kit.ids import new_id
from omnikanal.kit.time import utcnow
from omnikanal.uow import unit_of_work

TARGET_SQLITE = 20_000
SETUP_CHUNK = 1000
SCRATCH = {
    "commerce_order": "bench_ref_order",
    "events_event": "bench_ref_event",
}


@dataclass(frozen=True)
class Workload:
    customers: list[str]
    products: dict[str, tuple[str, str]]
    rows: list[dict[str, str]]
    purchases: int


def load_workload(limit: int | None) -> Workload:
    folder = _hm.sample_dir()
    if not folder.is_dir():
        console.print(
            f"[red]error:[/red] the H&M sample is not at {folder} (OMNIKANAL_SHARED_DATA)"
        )
        raise SystemExit(2)
    transactions = list(_hm.read_csv(folder / "transactions_sample.csv.gz"))[:limit]
    named = _hm.article_names(_hm.read_csv(folder / "articles_partial.csv.gz"))
    skus = sorted({_hm.sku(t["article_id"]) for t in transactions})
    return Workload(
        customers=[c["customer_id"] for c in _hm.read_csv(folder / "customers_sample.csv.gz")],
        products={s: named.get(s, (f"H&M article {s[3:]}", "")) for s in skus},
        rows=_hm.order_rows(transactions),
        purchases=len(transactions),
    )


# -- setting up (untimed) --


def set_up(factory: Any, workload: Workload) -> None:
    with unit_of_work(factory) as session:
        inventory_service.upsert_location(
            session,
            code=_hm.STORE,
            fields={"name": "H&M store", "kind": "store", "latitude": 59.33, "longitude": 18.06},
        )
    products = list(workload.products.items())
    with progress_bar() as progress:
        task = progress.add_task("products (untimed)", total=len(products))
        for at in range(0, len(products), SETUP_CHUNK):
            with unit_of_work(factory) as session:
                for sku, (name, category) in products[at : at + SETUP_CHUNK]:
                    catalog_service.upsert_product(
                        session,
                        sku=sku,
                        fields={
                            "family": sku[:9],
                            "name": name[:200],
                            "category": (category or "fashion")[:100],
                            "attributes": {},
                            "image_urls": [],
                            "vat_rate_bp": _hm.VAT_BP,
                        },
                    )
            progress.advance(task, len(products[at : at + SETUP_CHUNK]))
        task = progress.add_task("customers (untimed)", total=len(workload.customers))
        for at in range(0, len(workload.customers), SETUP_CHUNK):
            chunk = workload.customers[at : at + SETUP_CHUNK]
            with unit_of_work(factory) as session:
                customers_service.observe(
                    session,
                    [
                        Sighting(
                            identifiers=[IdentifierKey(EXTERNAL_ID, customer)],
                            traits={},
                            channel="web",
                            seen_at=utcnow(),
                        )
                        for customer in chunk
                    ],
                )
            progress.advance(task, len(chunk))


def at_rest(engine: Engine) -> None:
    """The set-up's writes moved from SQLite's write-ahead log into the database, as a
    database at rest has them, so the import does not pay for checkpointing them."""
    if engine.dialect.name == "sqlite":
        connection = engine.raw_connection()  # outside a transaction, which would block it
        try:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            connection.close()


# -- the import (timed) --


@dataclass(frozen=True)
class Measured:
    job: ImportJob
    seconds: float
    cpu_seconds: float
    transactions: int
    reference_seconds: float = 0.0
    # What the run's database holds afterwards: orders, lines, units, events.
    counts: dict[str, int] = field(default_factory=dict)


def write_file(workload: Workload, folder: Path) -> Path:
    """The purchases as an orders file in the hub format (untimed)."""
    path = folder / "hm-orders.csv"
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=list(workload.rows[0]))
        writer.writeheader()
        writer.writerows(workload.rows)
    return path


def run_job(factory: Any, path: Path, batch_size: int) -> Measured:
    """The import job, as ``omnikanal import orders FILE`` creates and runs it."""
    request = ImportRequest(kind="orders")
    with unit_of_work(factory) as session:
        job = import_service.create(
            session,
            request=request,
            file_path=str(path),
            file_source=JobSource.PATH,
            file_size=path.stat().st_size,
            fingerprint=import_service.fingerprint(request, f"benchmark:{new_id()}"),
            created_by=None,
            run_by_worker=False,
        )
    started, cpu_started = time.perf_counter(), time.process_time()
    done = import_commands.run(factory, job.id, description="import orders (timed)")
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return Measured(done, seconds, cpu, math.ceil(done.rows_read / batch_size))


# -- the reference: the rows the import wrote, inserted raw --


def _written(database: Database) -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
    """The imported orders, their lines and their timeline entries, as stored."""
    from _server import query

    return {
        "commerce_order": query(
            database, "SELECT * FROM commerce_order WHERE imported_at IS NOT NULL"
        ),
        "commerce_order_line": query(database, "SELECT * FROM commerce_order_line"),
        "events_event": query(
            database, "SELECT * FROM events_event WHERE name = 'Order Completed'"
        ),
    }


def _scratch_name(table: str) -> str:
    for name, scratch in SCRATCH.items():
        table = table.replace(name, scratch)
    return table


def _transactions(
    written: dict[str, tuple[list[str], list[tuple[Any, ...]]]], count: int
) -> list[dict[str, list[tuple[Any, ...]]]]:
    """The rows split into ``count`` transactions as the import's batches split them: an
    order's lines in its order's transaction, the events spread evenly."""
    parts: list[dict[str, list[tuple[Any, ...]]]] = [
        {table: [] for table in written} for _ in range(count)
    ]
    order_columns, orders = written["commerce_order"]
    o_id = order_columns.index("id")
    part_of = {order[o_id]: index * count // len(orders) for index, order in enumerate(orders)}
    for order in orders:
        parts[part_of[order[o_id]]]["commerce_order"].append(order)
    line_columns, lines = written["commerce_order_line"]
    l_order = line_columns.index("order_id")
    for line in lines:
        parts[part_of[line[l_order]]]["commerce_order_line"].append(line)
    _, events = written["events_event"]
    for index, event in enumerate(events):
        parts[index * count // len(events)]["events_event"].append(event)
    return parts


def sqlite_reference(database: Database, transactions: int) -> float:
    written = _written(database)
    connection = connect_sqlite(database.sqlite_path())
    try:
        for table in written:
            schema = connection.execute(
                "SELECT sql FROM sqlite_master WHERE tbl_name = ? AND sql IS NOT NULL "
                "ORDER BY type DESC",
                (table,),
            ).fetchall()
            for (statement,) in schema:
                connection.execute(_scratch_name(statement))
        fresh = _new_ids(written, lambda: uuid.uuid4().hex)
        sql = {
            table: f"INSERT INTO {_scratch_name(table)} ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' * len(columns))})"
            for table, (columns, _) in fresh.items()
        }
        started = time.perf_counter()
        for part in _transactions(fresh, transactions):
            connection.execute("BEGIN IMMEDIATE")
            for table, rows in part.items():
                connection.executemany(sql[table], rows)
            connection.execute("COMMIT")
        return time.perf_counter() - started
    finally:
        connection.close()


def postgres_reference(database: Database, transactions: int) -> float:
    written = _written(database)
    with connect_postgres(database, autocommit=True) as connection:
        for table in written:
            connection.execute(f"CREATE TABLE {_scratch_name(table)} (LIKE {table} INCLUDING ALL)")
        connection.execute(
            "ALTER TABLE bench_ref_order_line ADD FOREIGN KEY (order_id) "
            "REFERENCES bench_ref_order (id) ON DELETE CASCADE"
        )
        fresh = _new_ids(written, uuid.uuid4)
        fresh = {
            table: (columns, [tuple(_jsonb(v) for v in row) for row in rows])
            for table, (columns, rows) in fresh.items()
        }
        sql = {
            table: f"INSERT INTO {_scratch_name(table)} ({', '.join(columns)}) "
            f"VALUES ({', '.join(['%s'] * len(columns))})"
            for table, (columns, _) in fresh.items()
        }
        started = time.perf_counter()
        for part in _transactions(fresh, transactions):
            with connection.transaction(), connection.cursor() as cursor:
                for table, rows in part.items():
                    cursor.executemany(sql[table], rows)
        return time.perf_counter() - started


def _jsonb(value: Any) -> Any:
    return Jsonb(value) if isinstance(value, dict | list) else value


def _new_ids(
    written: dict[str, tuple[list[str], list[tuple[Any, ...]]]], new: Any
) -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
    """The same rows with new ids (lines follow their order's new id; numbers renamed)."""
    order_columns, orders = written["commerce_order"]
    line_columns, lines = written["commerce_order_line"]
    event_columns, events = written["events_event"]
    renamed: dict[Any, Any] = {}
    o_id, o_number = order_columns.index("id"), order_columns.index("number")
    new_orders = []
    for index, order in enumerate(orders):
        values = list(order)
        renamed[values[o_id]] = values[o_id] = new()
        values[o_number] = f"REF-{index:08d}"
        new_orders.append(tuple(values))
    l_id, l_order = line_columns.index("id"), line_columns.index("order_id")
    new_lines = []
    for line in lines:
        values = list(line)
        values[l_id], values[l_order] = new(), renamed[values[l_order]]
        new_lines.append(tuple(values))
    e_id = event_columns.index("id")
    new_events = []
    for event in events:
        values = list(event)
        values[e_id] = new()
        new_events.append(tuple(values))
    return {
        "commerce_order": (order_columns, new_orders),
        "commerce_order_line": (line_columns, new_lines),
        "events_event": (event_columns, new_events),
    }


# -- the runs --


@contextlib.contextmanager
def copy_of(database: Database, run: int) -> Iterator[Database]:
    """A copy of the set-up database for one run, removed afterwards."""
    if database.kind == "sqlite":
        source = Path(database.sqlite_path())
        target = source.with_name(f"run-{run}.sqlite3")
        shutil.copyfile(source, target)
        try:
            yield Database("sqlite", f"sqlite:///{target}")
        finally:
            for leftover in target.parent.glob(f"{target.name}*"):
                leftover.unlink()
        return
    url = make_url(database.url)
    name = f"{url.database}_run{run}"
    with connect_postgres(database, autocommit=True) as admin:  # the template's only session
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{url.database}"')
    try:
        yield Database("postgresql", url.set(database=name).render_as_string(False))
    finally:
        with connect_postgres(database, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def prepare(database: Database, workload: Workload) -> None:
    """The set-up (untimed), left at rest: the runs copy it."""
    migrate.upgrade(database.url)
    engine: Engine = make_engine(database.url)
    try:
        settings = Settings(database_url=database.url)
        set_up(make_session_factory(engine, settings=settings), workload)
        at_rest(engine)
    finally:
        engine.dispose()


def one_run(database: Database, path: Path, batch_size: int, *, profile: bool) -> Measured:
    """The import into ``database``, then what it holds, then the reference on it."""
    settings = Settings(
        database_url=database.url, data_dir=path.parent, import_batch_rows=batch_size
    )
    engine: Engine = make_engine(database.url)
    try:
        factory = make_session_factory(engine, settings=settings)
        profiler = cProfile.Profile() if profile else None
        if profiler is not None:
            profiler.enable()
        measured = run_job(factory, path, batch_size)
        if profiler is not None:
            profiler.disable()
            stats = pstats.Stats(profiler, stream=sys.stdout)
            stats.sort_stats("cumulative").print_stats(45)
            stats.sort_stats("tottime").print_stats(25)
    finally:
        engine.dispose()
    counts = stored_counts(database)
    reference = sqlite_reference if database.kind == "sqlite" else postgres_reference
    with console.status("reference: raw insert of the same rows"):
        reference_seconds = reference(database, measured.transactions)
    return replace(measured, reference_seconds=reference_seconds, counts=counts)


def stored_counts(database: Database) -> dict[str, int]:
    ((orders,),) = fetch(database, "SELECT count(*) FROM commerce_order")
    ((lines,),) = fetch(database, "SELECT count(*) FROM commerce_order_line")
    ((units,),) = fetch(database, "SELECT sum(quantity) FROM commerce_order_line")
    ((events,),) = fetch(
        database, "SELECT count(*) FROM events_event WHERE name = 'Order Completed'"
    )
    return {"orders": orders, "lines": lines, "units": units, "events": events}


def report(
    database: Database,
    workload: Workload,
    batch_size: int,
    runs: list[Measured],
    counts: dict[str, int],
) -> bool:
    lines = len(workload.rows)
    rates = sorted(lines / run.seconds for run in runs)
    references = sorted(lines / run.reference_seconds for run in runs)
    rate, best = statistics.median(rates), rates[-1]
    reference = statistics.median(references)
    seconds = sorted(run.seconds for run in runs)
    last = runs[-1].job
    if database.kind == "sqlite":
        verdict = " [green]met[/green]" if rate >= TARGET_SQLITE else " [red]missed[/red]"
        target = f"target ≥ {TARGET_SQLITE:,}/s (median)"
    else:
        verdict, target = "", "(no target set)"
    how = "sqlite3" if database.kind == "sqlite" else "psycopg"
    print_table(
        f"Orders import on {database.kind}: the H&M sample as `omnikanal import orders`, "
        f"{batch_size:,} rows per batch, {len(runs)} runs",
        [
            ("order lines/s, median of the runs", f"{rate:,.0f}{verdict}", target),
            (
                "order lines/s, each run",
                ", ".join(f"{lines / run.seconds:,.0f}" for run in runs),
                f"best {best:,.0f}",
            ),
            (
                "reference: raw insert lines/s (median)",
                f"{reference:,.0f}",
                f"{how} executemany of the orders, lines and events written, "
                f"{runs[-1].transactions} txns",
            ),
            ("import / reference (medians)", f"{rate / reference:.1%}", ""),
            (
                "wall time (median)",
                f"{statistics.median(seconds):.2f} s",
                f"best {seconds[0]:.2f} s",
            ),
            (
                "CPU of this process (median)",
                f"{statistics.median(run.cpu_seconds for run in runs):.2f} s",
                "",
            ),
            (
                "purchases → order lines",
                f"{workload.purchases:,} → {lines:,}",
                f"{counts['units']:,} units",
            ),
            (
                "orders / lines / timeline events",
                f"{counts['orders']:,} / {counts['lines']:,} / {counts['events']:,}",
                "",
            ),
            (
                "job: read / created / unchanged / failed",
                f"{last.rows_read:,} / {last.rows_created:,} / {last.rows_unchanged:,} / "
                f"{last.rows_failed:,}",
                f"expected {lines:,} / {lines:,} / 0 / 0",
            ),
        ],
    )
    return (
        all(run.job.status == "done" and run.job.rows_created == lines for run in runs)
        and last.rows_failed == 0
        and counts["lines"] == lines
        and counts["units"] == workload.purchases
        and counts["events"] == counts["orders"]
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--database", choices=DATABASE_CHOICES, default="sqlite")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=Settings.model_fields["import_batch_rows"].default,
        help="rows per transaction (default: the hub's, OMNIKANAL_IMPORT_BATCH_ROWS)",
    )
    parser.add_argument("--runs", type=int, default=3, help="imports, each into a fresh copy")
    parser.add_argument("--limit", type=int, default=None, help="only the first N purchases")
    parser.add_argument(
        "--profile", action="store_true", help="profile the first run (cProfile; slows it down)"
    )
    parser.add_argument(
        "--pg-url", default=DEFAULT_PG_URL, help="a PostgreSQL server to create a database on"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    exit_cleanly_on_sigterm()
    args = parse_args(argv)
    kinds = selected_kinds(args.database, args.pg_url)
    with console.status("reading the H&M sample (untimed)"):
        workload = load_workload(args.limit)
    ok = True
    with tempfile.TemporaryDirectory(prefix="omnikanal-import-") as folder:
        path = write_file(workload, Path(folder))
        for kind in kinds:
            with fresh_database(kind, args.pg_url) as database:
                prepare(database, workload)
                runs: list[Measured] = []
                counts: dict[str, int] = {}
                for run in range(args.runs):
                    with copy_of(database, run) as copy:
                        profile = args.profile and run == 0
                        measured = one_run(copy, path, args.batch_size, profile=profile)
                    runs.append(measured)
                    counts = measured.counts
                ok = report(database, workload, args.batch_size, runs, counts) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("OMNIKANAL_LOG_LEVEL", "WARNING")
    sys.exit(main())
