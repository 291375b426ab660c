"""Events to Parquet: ``omnikanal export events`` rows/s beside writing the same rows from
memory.

What it measures: ``--events`` events (by default 200,000 over 30 days, with Segment
properties and context) are inserted into a fresh database, untimed. Then the clock runs
while the export writes them all (``exports.runner.run``, as ``omnikanal export events``
does): read from the database in chunks, turned into Arrow, written as zstd Parquet
partitioned by day, renamed into place and the cursor moved.

Beside it, the references measured in the same run on the same rows, already in memory
as one Arrow table (read back from what the export wrote): pyarrow writing them as one
zstd Parquet file, and DuckDB's ``COPY ... TO (FORMAT parquet)`` of that table partitioned
by day. The gap is the cost of reading from the database and building rows in Python.

Run from the project root:

    .venv/bin/python benchmarks/export.py                         # both databases
    .venv/bin/python benchmarks/export.py --database sqlite --events 50000
"""

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import duckdb
import pyarrow.dataset as pa_dataset
import pyarrow.parquet as pq

from _server import (
    DATABASE_CHOICES,
    DEFAULT_PG_URL,
    Database,
    console,
    exit_cleanly_on_sigterm,
    fresh_database,
    print_table,
    rate,
    selected_kinds,
)
from omnikanal import migrate
from omnikanal.db import make_engine, make_session_factory
from omnikanal.events import repository as events_repository
from omnikanal.exports import runner
from omnikanal.exports.schemas import Kind
from omnikanal.kit.ids import new_id
from omnikanal.uow import unit_of_work

INSERT_BATCH = 5_000
START = datetime(2026, 11, 1, tzinfo=UTC)


def _event(i: int, people: int, span: timedelta) -> dict[str, Any]:
    # Spread over the span, not in id order: a day is written by many chunks.
    at = START + span * ((i * 7_919) % 10_007 / 10_007)
    profile = uuid4()
    return {
        "id": new_id(),
        "source_id": SOURCE,
        "channel": "web" if i % 3 else "app",
        "location": None,
        "type": "track",
        "name": "Product Viewed",
        "message_id": f"m-{i}",
        "profile_id": profile,
        "anchor_id": profile,
        "user_id": f"u-{i % people}" if i % 2 else None,
        "anonymous_id": f"anon-{i % people}",
        "timestamp": at,
        "sent_at": None,
        "received_at": at,
        "message": {
            "type": "track",
            "event": "Product Viewed",
            "properties": {"sku": f"SKU-{i % 500}", "price": 24_900 + i % 1000},
            "context": {"page": {"path": f"/p/{i % 500}"}, "userAgent": "Mozilla/5.0"},
        },
    }


SOURCE = uuid4()


def load(database: Database, events: int) -> None:
    migrate.upgrade(database.url)
    engine = make_engine(database.url)
    factory = make_session_factory(engine)
    span = timedelta(days=30)
    with console.status(f"inserting {events:,} events"):
        for start in range(0, events, INSERT_BATCH):
            rows = [
                _event(i, events // 5 or 1, span)
                for i in range(start, min(start + INSERT_BATCH, events))
            ]
            with unit_of_work(factory) as session:
                events_repository.insert_events(session, rows)
    engine.dispose()


def measure(database: Database, events: int, chunk: int) -> list[tuple[str, str, str]]:
    engine = make_engine(database.url)
    factory = make_session_factory(engine)
    reader = make_session_factory(engine, read_only=True)
    with tempfile.TemporaryDirectory(prefix="omnikanal-export-") as folder:
        out = Path(folder) / "warehouse"
        started = time.perf_counter()
        report = runner.run(
            factory,
            kind=Kind.EVENTS,
            out=out,
            settle=timedelta(0),
            chunk_rows=chunk,
            read_factory=reader,
        )
        exported = time.perf_counter() - started
        engine.dispose()
        if report.rows() != events:
            console.print(f"[red]error:[/red] exported {report.rows():,} of {events:,} events")
            raise SystemExit(1)
        table = pa_dataset.dataset(out / "events", format="parquet", partitioning="hive").to_table()
        started = time.perf_counter()
        pq.write_table(table, Path(folder) / "memory.parquet", compression="zstd")
        pyarrow_seconds = time.perf_counter() - started
        connection = duckdb.connect()
        connection.register("memory_table", table)
        started = time.perf_counter()
        connection.execute(
            f"COPY memory_table TO '{Path(folder) / 'duckdb'}' "
            "(FORMAT parquet, COMPRESSION zstd, PARTITION_BY (date))"
        )
        duckdb_seconds = time.perf_counter() - started
        connection.close()
    files = len(report.files)
    size = report.bytes
    return [
        (
            f"events to Parquet ({files} files, {size / 1e6:.1f} MB)",
            rate(events, exported),
            f"{rate(events, pyarrow_seconds)} (pyarrow, from memory)",
        ),
        (
            "",
            "",
            f"{rate(events, duckdb_seconds)} (DuckDB COPY, from memory)",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=DATABASE_CHOICES, default="both")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--chunk", type=int, default=runner.DEFAULT_CHUNK_ROWS)
    args = parser.parse_args()
    exit_cleanly_on_sigterm()
    for kind in selected_kinds(args.database, args.pg_url):
        with fresh_database(kind, args.pg_url) as database:
            load(database, args.events)
            rows = measure(database, args.events, args.chunk)
        print_table(
            f"Export of {args.events:,} events to Parquet on {kind} (chunks of {args.chunk:,})",
            rows,
            headers=("omnikanal export", "reference"),
        )


if __name__ == "__main__":
    sys.exit(main())
