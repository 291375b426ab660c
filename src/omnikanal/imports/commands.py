"""``omnikanal import KIND FILE``, ``omnikanal import list``, ``... status ID`` and
``... errors ID``.

The command runs the job itself, a batch per transaction, with a progress bar driven by
the bytes of the file read (rows, rate and time left beside it). Killed, the same command
again finds the unfinished job of the same file and settings and resumes after its last
committed batch.
"""

import contextlib
import csv
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated
from uuid import UUID

import typer
from rich import box
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from sqlalchemy.orm import Session, sessionmaker

from omnikanal.config import Settings
from omnikanal.db import make_engine, make_session_factory
from omnikanal.imports import formats, jobs, reading, registry, service
from omnikanal.imports.kinds import FollowedKind
from omnikanal.imports.models import ImportJob, JobSource, JobStatus
from omnikanal.uow import unit_of_work

import_app = typer.Typer(
    help="Import customers, products, prices, stock or orders from CSV or JSON Lines.",
    no_args_is_help=True,
)
console = Console(soft_wrap=True)
FIRST_ERRORS = 10
# Exit codes: the job failed; some rows were rejected (the rest landed).
EXIT_FAILED = 1
EXIT_ROWS_REJECTED = 2


def _factory(settings: Settings) -> sessionmaker[Session]:
    return make_session_factory(make_engine(settings.resolved_database_url()), settings=settings)


def _source(file: str, settings: Settings) -> tuple[str, str, int, str]:
    """(path, source, size, identity) of the file; standard input is spooled first."""
    if file == "-":
        spooled = reading.spool(sys.stdin.buffer, Path(settings.data_dir))
        return str(spooled.path), JobSource.SPOOLED, spooled.size, f"sha256:{spooled.sha256}"
    path = Path(file).resolve()
    if not path.is_file():
        raise RuntimeError(f"no file at {file}")
    stat = path.stat()
    return str(path), JobSource.PATH, stat.st_size, f"path:{path}:{stat.st_size}:{stat.st_mtime_ns}"


def _job(
    factory: sessionmaker[Session], settings: Settings, request: service.ImportRequest, file: str
) -> ImportJob:
    path, source, size, identity = _source(file, settings)
    fingerprint = service.fingerprint(request, identity)
    with unit_of_work(factory) as session:
        found = service.resumable(session, fingerprint=fingerprint)
        if found is not None:
            if source == JobSource.SPOOLED and path != found.file_path:
                Path(path).unlink(missing_ok=True)  # the same input, already spooled
            console.print(f"resuming import {found.id} after row {found.position:,}")
            return found
        try:
            return service.create(
                session,
                request=request,
                file_path=path,
                file_source=source,
                file_size=size,
                fingerprint=fingerprint,
                created_by=None,
                run_by_worker=False,
            )
        except BaseException:
            if source == JobSource.SPOOLED:
                Path(path).unlink(missing_ok=True)
            raise


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rows]:,} rows {task.fields[rate]:,.0f}/s"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
    )


def run(factory: sessionmaker[Session], job_id: UUID, *, description: str) -> ImportJob:
    """The job's batches until it ends, with a progress bar."""
    readers = jobs.ReaderCache(limit=1)
    with factory() as session:
        job = service.get(session, job_id=job_id)
    started, rows_before = time.monotonic(), job.rows_read
    with _progress() as progress:
        task = progress.add_task(description, total=job.file_size or None, rows=0, rate=0.0)
        while True:
            with unit_of_work(factory) as session:
                result = jobs.run_batch(session, job_id, readers=readers)
                job = service.get(session, job_id=job_id)
            elapsed = max(time.monotonic() - started, 1e-6)
            progress.update(
                task,
                completed=readers.bytes_read(job_id) if not result.finished else job.file_size,
                rows=job.rows_read,
                rate=(job.rows_read - rows_before) / elapsed,
            )
            if result.finished:
                break
            if job.attempts:
                time.sleep(min(2.0 * job.attempts, 10.0))
    readers.drop(job_id)
    jobs.remove_spooled_file(job)
    kind = registry.kind(job.kind)
    if isinstance(kind, FollowedKind):
        with console.status(kind.follow_up_label), unit_of_work(factory) as session:
            jobs.after_import(session, job_id)
    return job


def _counts(job: ImportJob) -> list[tuple[str, int]]:
    """A job's rows, counted by what became of them."""
    return [
        ("read", job.rows_read),
        ("created", job.rows_created),
        ("updated", job.rows_updated),
        ("unchanged", job.rows_unchanged),
        ("failed", job.rows_failed),
    ]


def summary(factory: sessionmaker[Session], job: ImportJob) -> None:
    table = Table(title=f"import {job.id} ({job.kind}, {job.format}) — {job.status}")
    counts = _counts(job)
    for what, _ in counts:
        table.add_column(what, justify="right")
    table.add_row(*(f"{n:,}" for _, n in counts))
    console.print(table)
    if job.options.get("dry_run"):
        console.print("dry run: nothing was written; the counts say what an import would do")
    if job.rows_skipped:
        console.print(f"{job.rows_skipped:,} rows passed over (no record in them)")
    if job.ignored_columns:
        console.print(
            f"[yellow]not imported:[/yellow] the columns {', '.join(job.ignored_columns)} "
            f"are not fields of {job.kind} (map them with --map COLUMN=FIELD)",
            highlight=False,
        )
    if job.error:
        console.print(f"[red]failed:[/red] {job.error}", highlight=False)
    if job.rows_failed:
        with factory() as session:
            first = list(service.errors(session, job_id=job.id, limit=FIRST_ERRORS))
        errors = Table(title=f"the first {len(first)} errors")
        for column in ("row", "field", "reason"):
            errors.add_column(column)
        for row, field, reason in first:
            errors.add_row(str(row), field or "(row)", reason)
        console.print(errors)
        console.print(
            f"full report: omnikanal import errors {job.id} --out errors.csv "
            f"(or GET /v1/imports/{job.id}/errors)",
            highlight=False,
        )


def _exit_code(job: ImportJob) -> int:
    if job.status == JobStatus.FAILED:
        return EXIT_FAILED
    return EXIT_ROWS_REJECTED if job.rows_failed else 0


FileArgument = Annotated[str, typer.Argument(help="CSV or JSON Lines (gzip too); - reads stdin.")]
FormatOption = Annotated[
    str, typer.Option("--format", help="hub, or shopify (customers and products exports).")
]
MapOption = Annotated[
    str | None,
    typer.Option("--map", help='Rename the file\'s columns: "E-post=email,Mobil=phone".'),
]
DryRunOption = Annotated[
    bool, typer.Option("--dry-run", help="Validate every row and write nothing.")
]
PointsOption = Annotated[
    bool, typer.Option("--award-points", help="Orders: earn loyalty points (default none).")
]
LocationOption = Annotated[
    str | None, typer.Option("--location", help="Default store for rows without one.")
]
ChannelOption = Annotated[
    str | None, typer.Option("--channel", help="Default channel for rows without one.")
]
EncodingOption = Annotated[
    str,
    typer.Option(
        "--encoding",
        help="The file's text encoding: utf-8, utf-16, cp1252 (Excel on Windows), "
        "iso8859-1, iso8859-15, cp850 or mac-roman.",
    ),
]


def _kind_command(kind: str) -> Callable[..., None]:
    def command(
        file: FileArgument,
        format: FormatOption = formats.HUB,
        map: MapOption = None,
        dry_run: DryRunOption = False,
        award_points: PointsOption = False,
        location: LocationOption = None,
        channel: ChannelOption = None,
        encoding: EncodingOption = reading.UTF8,
    ) -> None:
        settings = Settings()
        factory = _factory(settings)
        request = service.ImportRequest(
            kind=kind,
            format=format,
            column_map=service.column_map(map),
            dry_run=dry_run,
            award_points=award_points,
            location=location,
            channel=channel,
            encoding=service.encoding(encoding),
        )
        service.check(request)
        job = _job(factory, settings, request, file)
        label = "stdin" if file == "-" else Path(file).name
        job = run(factory, job.id, description=f"{kind} from {label}")
        summary(factory, job)
        code = _exit_code(job)
        if code:
            raise typer.Exit(code)

    command.__doc__ = f"Import {kind} from FILE as a job (resumed if killed: run it again)."
    return command


def register(wrap: Callable[[Callable[..., None]], Callable[..., None]]) -> None:
    """The kinds' commands, each wrapped by the command line's error handling."""
    for kind in registry.KIND_NAMES:
        import_app.command(kind)(wrap(_kind_command(kind)))
    import_app.command("list")(wrap(list_jobs))
    import_app.command("status")(wrap(status))
    import_app.command("errors")(wrap(errors))


def _listed_rows(job: ImportJob) -> str:
    """The rows read and, one a line, the other counts that are not zero."""
    return "\n".join(f"{n:,} {what}" for what, n in _counts(job) if n or what == "read")


def list_jobs(
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="Imports shown.")] = 20,
) -> None:
    """Imports, newest first, from this command or uploaded: their ids, status and counts."""
    settings = Settings()
    factory = _factory(settings)
    with factory() as session:
        found = service.jobs(session, before=None, limit=limit)
    # Three narrow columns, a job's facts one under the other: 80 characters hold them.
    table = Table(title=f"the {len(found)} newest imports", box=box.SIMPLE, show_lines=True)
    table.add_column("import", no_wrap=True)
    table.add_column("status (UTC)", no_wrap=True)
    table.add_column("rows")
    for job in found:
        status = f"{job.status}, dry run" if job.options.get("dry_run") else job.status
        took = (
            f"\ntook {(job.finished_at - job.started_at).total_seconds():,.1f} s"
            if job.started_at and job.finished_at
            else ""
        )
        table.add_row(
            f"{job.id}\n{job.kind}, {job.format}",
            f"{status}\n{job.created_at:%Y-%m-%d %H:%M:%S}{took}",
            _listed_rows(job),
        )
    console.print(table)


def status(import_id: Annotated[UUID, typer.Argument(help="The import's id.")]) -> None:
    """An import's status and counts."""
    settings = Settings()
    factory = _factory(settings)
    with factory() as session:
        job = service.get(session, job_id=import_id)
    summary(factory, job)
    console.print(f"rows done: {job.position:,}", highlight=False)


def errors(
    import_id: Annotated[UUID, typer.Argument(help="The import's id.")],
    out: Annotated[Path | None, typer.Option("--out", help="Write the CSV here.")] = None,
) -> None:
    """An import's error report as CSV (row, field, reason), to stdout or --out."""
    settings = Settings()
    factory = _factory(settings)
    target_file = out.open("w", newline="") if out else contextlib.nullcontext(sys.stdout)
    with factory() as session, target_file as target:
        writer = csv.writer(target)
        writer.writerow(("row", "field", "reason"))
        for row in service.errors(session, job_id=import_id):
            writer.writerow(row)
    if out:
        console.print(f"wrote {out}")
