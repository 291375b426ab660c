"""One export run of one kind to one folder, from the database to renamed part files.

The run owns its transactions (like a worker job): it starts in one (the cursor, and
finishing a run that died after recording its files), reads in a read-only session that
streams the rows chunk by chunk, records the finished files in a second, renames them into
place, and moves the cursor in a third. A run that dies while writing leaves only hidden
temporary files (removed by the next run) and an unmoved cursor; one that dies after
recording its files is completed by the next run, so no row is written twice.

Rows changed in the last ``settle`` seconds wait for the next run: a transaction still
open when the run starts may yet commit rows stamped before that moment.
"""

import os
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from sqlalchemy.orm import Session, sessionmaker

from omnikanal.commerce import warehouse as commerce_warehouse
from omnikanal.customers import warehouse as customers_warehouse
from omnikanal.events import warehouse as events_warehouse
from omnikanal.exports import service
from omnikanal.exports.datasets import DATASETS, EVENTS, ORDER_LINES, ORDERS, PROFILES, Dataset
from omnikanal.exports.models import ExportCursor
from omnikanal.exports.schemas import Format, Kind
from omnikanal.exports.service import DEFAULT_CHUNK_ROWS, DEFAULT_SETTLE
from omnikanal.exports.writer import PartitionedWriter, WrittenFile, is_temp, temp_path
from omnikanal.kit.time import utcnow
from omnikanal.uow import unit_of_work

# (rows written so far, rows this run will write if known)
Progress = Callable[[int, int | None], None]


@dataclass
class Report:
    kind: Kind
    run: str
    destination: Path
    files: list[WrittenFile] = field(default_factory=list)
    # Chunks read from the database, and the largest: the export streams.
    chunks: int = 0
    largest_chunk: int = 0
    # Times the writer wrote its buffers out.
    flushes: int = 0

    def rows(self, dataset: str | None = None) -> int:
        return sum(f.rows for f in self.files if dataset is None or f.dataset == dataset)

    @property
    def bytes(self) -> int:
        return sum(f.bytes for f in self.files)


def first_id_at(moment: datetime) -> UUID:
    """The smallest time-ordered id (``kit.ids.new_id``) made at or after ``moment``."""
    ms = int(moment.timestamp() * 1000)
    return UUID(int=(ms << 80) | (0x7 << 76) | (0b10 << 62))


def _run_name(now: datetime) -> str:
    # Sorts by time; the random tail keeps two runs of one second apart.
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def _rename(root: Path, files: list[str]) -> None:
    folders: set[Path] = set()
    for relative in files:
        final = root / relative
        temp = temp_path(final)
        if temp.exists():
            os.replace(temp, final)
        folders.add(final.parent)
    for folder in folders:
        # The renames themselves survive a crash once their folders are synced.
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _remove_strays(root: Path, kind: Kind) -> None:
    """Temporary files a dead run left (its cursor never recorded them)."""
    for dataset in DATASETS[kind]:
        folder = root / dataset.name
        if folder.is_dir():
            for path in folder.glob("date=*/.part-*"):
                if is_temp(path):
                    path.unlink(missing_ok=True)


def _start(factory: sessionmaker[Session], root: Path, kind: Kind, fmt: Format) -> ExportCursor:
    with unit_of_work(factory) as session:
        cursor = service.cursor_for(session, kind=kind, destination=str(root), fmt=fmt)
        if cursor.pending is not None:
            # A run recorded its files and died before (or while) renaming them.
            _rename(root, service.pending_files(cursor))
            cursor = service.complete(session, cursor_id=cursor.id)
        _remove_strays(root, kind)
        return cursor


def _chunks(
    session: Session, kind: Kind, window: service.Window, chunk_rows: int, *, count: bool
) -> tuple[int | None, Iterator[list[tuple[Dataset, list[dict[str, Any]]]]]]:
    """How many rows of the main dataset the window holds (when ``count``: a second scan,
    only worth it for a progress bar), and its rows in chunks."""
    if kind is Kind.EVENTS:
        # Events are taken by id, whose time says when each was stored.
        start = window.start if window.since is None else None
        from_id = first_id_at(start) if start else None
        before = first_id_at(window.until)
        total = (
            events_warehouse.count_for_export(
                session, from_id=from_id, before=before, received_since=window.since
            )
            if count
            else None
        )
        events = events_warehouse.rows_for_export(
            session, from_id=from_id, before=before, received_since=window.since, chunk=chunk_rows
        )
        return total, ([(EVENTS, chunk)] for chunk in events)
    after, until = window.start, window.until
    if kind is Kind.ORDERS:
        total = (
            commerce_warehouse.count_for_export(session, changed_after=after, changed_until=until)
            if count
            else None
        )
        orders = commerce_warehouse.rows_for_export(
            session, changed_after=after, changed_until=until, chunk=chunk_rows
        )
        return total, ([(ORDERS, c.orders), (ORDER_LINES, c.lines)] for c in orders)
    total = (
        customers_warehouse.count_for_export(session, changed_after=after, changed_until=until)
        if count
        else None
    )
    profiles = customers_warehouse.rows_for_export(
        session, changed_after=after, changed_until=until, chunk=chunk_rows
    )
    return total, ([(PROFILES, chunk)] for chunk in profiles)


def run(
    factory: sessionmaker[Session],
    *,
    kind: Kind,
    out: Path,
    fmt: Format = Format.PARQUET,
    since: datetime | None = None,
    full: bool = False,
    gzip: bool = False,
    settle: timedelta = DEFAULT_SETTLE,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    read_factory: sessionmaker[Session] | None = None,
    progress: Progress | None = None,
) -> Report:
    """Export what changed since the last run of ``kind`` to ``out`` (see the module)."""
    root = out.resolve()
    root.mkdir(parents=True, exist_ok=True)
    started = utcnow()
    cursor = _start(factory, root, kind, fmt)
    window = service.window(cursor, until=started - settle, since=since, full=full)
    report = Report(kind=kind, run=_run_name(started), destination=root)
    writer = PartitionedWriter(
        root, run=report.run, fmt=fmt, gzip=gzip, exported_at=started, flush_rows=chunk_rows
    )
    last_event: str | None = None
    try:
        with (read_factory or factory)() as session:
            total, chunks = _chunks(session, kind, window, chunk_rows, count=progress is not None)
            done = 0
            if progress:
                progress(done, total)
            for parts in chunks:
                main = len(parts[0][1])
                report.chunks += 1
                report.largest_chunk = max(report.largest_chunk, main)
                if kind is Kind.EVENTS and main:
                    last_event = parts[0][1][-1]["event_id"]
                for dataset, rows in parts:
                    writer.add(dataset, rows)
                done += main
                if progress:
                    progress(done, total)
        report.files = writer.close()
        report.flushes = writer.flushes
    except BaseException:
        writer.abort()
        raise
    _finish(factory, root, cursor.id, report, window, last_event)
    return report


def _finish(
    factory: sessionmaker[Session],
    root: Path,
    cursor_id: UUID,
    report: Report,
    window: service.Window,
    last_event: str | None,
) -> None:
    files = [f.path for f in report.files]
    with unit_of_work(factory) as session:
        service.record_pending(
            session,
            cursor_id=cursor_id,
            run=report.run,
            files=files,
            position=last_event,
            position_time=window.until,
            rows=report.rows(DATASETS[report.kind][0].name),
            size=report.bytes,
        )
    _rename(root, files)
    with unit_of_work(factory) as session:
        service.complete(session, cursor_id=cursor_id)


def utc(moment: datetime) -> datetime:
    """A zone-less time is UTC."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
