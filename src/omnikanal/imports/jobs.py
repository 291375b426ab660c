"""Running an import: one batch per transaction, the job's position advanced in it.

``run_batch`` locks the job, reads the next rows after its position, has the kind apply
them (in a savepoint: a dry run rolls it back), writes the rejected rows' errors and the
counts, and moves the position, all in the caller's transaction. Killed at any moment, the
job resumes at the first batch not committed. A batch that fails as a whole is split until
the rows that fail are found, so one bad row never sinks its neighbours.

The command line calls it in a loop with a progress bar; uploads run on the worker, one
timer firing per batch (``batch_fired``), like erasure's steps. An open file per job is
kept between batches as a cache only: it is checked against the job's position, and
opened again (and read up to it) whenever they differ.
"""

import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from uuid import UUID

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from omnikanal.config import settings_of
from omnikanal.db import long_read
from omnikanal.imports import formats, registry, repository, service
from omnikanal.imports.kinds import (
    BatchOutcome,
    FinishingKind,
    FollowedKind,
    ImportKind,
    ImportOptions,
    RowProblem,
    ignored_columns,
)
from omnikanal.imports.models import ImportJob, JobSource, JobStatus
from omnikanal.imports.reading import SPOOL_FOLDER, UTF8, ImportFileError, RowFile
from omnikanal.kit.gc_pause import collection_paused
from omnikanal.kit.leases import retry_delay
from omnikanal.kit.time import utcnow
from omnikanal.timers.models import Timer
from omnikanal.uow import savepoint

logger = logging.getLogger("omnikanal.imports")

# Attempts at a batch that fails for an unexpected reason before the job is failed.
MAX_ATTEMPTS = 3
# A spooled file no unfinished job reads, older than this, is removed by the sweep.
ORPHAN_AGE = timedelta(hours=1)
SWEEP_INTERVAL = timedelta(minutes=15)


@dataclass
class Taken:
    rows: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    # Rows that could not be read at all (a JSON line that is no object).
    problems: list[RowProblem] = field(default_factory=list)
    skipped: int = 0
    read: int = 0
    last: int = 0
    at_end: bool = False
    # The hub fields of the file's first row (after the map and the format), when read.
    columns: list[str] | None = None
    # Why the file could not be read past these rows (a gzip file cut short), if it could not.
    broken: str | None = None


class JobReader:
    """A job's file, read forward: rows translated by the format after the column map."""

    def __init__(self, job: ImportJob) -> None:
        self.job_id = job.id
        self.file = RowFile(Path(job.file_path), job.options.get("encoding", UTF8))
        self._rows = self.file.rows()
        self.translate = formats.translator(job.format, job.kind)
        self.column_map: Mapping[str, str] = dict(job.options.get("map") or {})
        self.last = 0

    @property
    def bytes_read(self) -> int:
        return self.file.bytes_read

    def take(self, after: int, limit: int) -> Taken:
        """Up to ``limit`` rows after row ``after``; rows up to it are read (a format may
        remember a product across rows) but not handed on."""
        taken = Taken(last=max(self.last, after))
        # Locals in the loop, which runs once per row.
        rows, column_map, translate = taken.rows, self.column_map, self.translate
        while taken.read < limit:
            try:
                raw = next(self._rows, None)
            except ImportFileError as exc:
                if not taken.read:
                    raise
                taken.broken = str(exc)  # the rows before the break still land
                break
            if raw is None:
                taken.at_end = True
                break
            number, values, problem = raw
            self.last = number
            if number == 1:  # the header has been read
                self._check_map()
            if values is None:
                if number > after:
                    taken.read += 1
                    taken.problems.append(RowProblem(number, "", problem or "unreadable"))
                    taken.last = number
                continue
            if column_map:
                values = formats.apply_map(values, column_map)
            fields = translate(values)
            if number == 1 and fields is not None:
                taken.columns = list(fields)
            if number <= after:
                continue
            taken.read += 1
            taken.last = number
            if fields is None:
                taken.skipped += 1
            else:
                rows.append((number, fields))
        return taken

    def _check_map(self) -> None:
        """A column map naming a column the CSV file does not have is a mistake (a typo,
        the wrong file) that would fail every row: the file fails at once, saying which."""
        header = self.file.header
        missing = [name for name in self.column_map if header is not None and name not in header]
        if missing:
            raise ImportFileError(
                f"the column map names {missing[0]!r}, which is not a column of the file"
            )

    def close(self) -> None:
        self.file.close()


class ReaderCache:
    """Open readers by job, so a job's next batch reads on where the last one stopped."""

    def __init__(self, limit: int = 4) -> None:
        self.limit = limit
        self._readers: dict[UUID, JobReader] = {}
        self._lock = threading.Lock()

    def reader_for(self, job: ImportJob) -> JobReader:
        with self._lock:
            reader = self._readers.pop(job.id, None)
        if reader is not None and reader.last != job.position:
            reader.close()
            reader = None
        if reader is None:
            reader = JobReader(job)
        with self._lock:
            while len(self._readers) >= self.limit:
                _, oldest = self._readers.popitem()
                oldest.close()
            self._readers[job.id] = reader
        return reader

    def drop(self, job_id: UUID) -> None:
        with self._lock:
            reader = self._readers.pop(job_id, None)
        if reader is not None:
            reader.close()

    def bytes_read(self, job_id: UUID) -> int:
        with self._lock:
            reader = self._readers.get(job_id)
        return reader.bytes_read if reader else 0


@dataclass(frozen=True)
class BatchResult:
    status: str
    position: int
    finished: bool
    # False when another runner had moved the job on (a timer's lease ran out).
    ran: bool = True


def _apply(
    session: Session,
    kind: ImportKind,
    rows: Sequence[tuple[int, Mapping[str, str]]],
    options: ImportOptions,
) -> BatchOutcome:
    """The kind's outcome for these rows; a batch that fails as a whole is halved until
    the failing rows stand alone, each rejected by the kind of error (not its message:
    a database's message quotes the row's values)."""
    if not rows:
        return BatchOutcome()
    try:
        with savepoint(session, keep=not options.dry_run):
            return kind.apply(session, rows, options=options)
    except OperationalError:
        raise  # the database itself is in trouble: the batch is tried again later
    except Exception as exc:
        if len(rows) == 1:
            logger.warning("import row %s could not be stored: %s", rows[0][0], type(exc).__name__)
            reason = f"could not be stored ({type(exc).__name__})"
            return BatchOutcome(problems=[RowProblem(rows[0][0], "", reason)])
    half = len(rows) // 2
    first, second = (
        _apply(session, kind, rows[:half], options),
        _apply(session, kind, rows[half:], options),
    )
    return BatchOutcome(
        created=first.created + second.created,
        updated=first.updated + second.updated,
        unchanged=first.unchanged + second.unchanged,
        problems=first.problems + second.problems,
    )


def _fail(job: ImportJob, reason: str) -> None:
    job.status = JobStatus.FAILED
    job.error = reason
    job.finished_at = job.updated_at = utcnow()


def run_batch(
    session: Session,
    job_id: UUID,
    *,
    readers: ReaderCache,
    batch_rows: int | None = None,
    expected_position: int | None = None,
) -> BatchResult:
    """The job's next batch, in the caller's transaction (see the module's docstring)."""
    # A batch allocates a dozen objects per row, and each collection the allocations
    # trigger walks those still alive. Paused until the batch's rows and results are
    # freed (on return), the collection the pause defers finds almost nothing to walk;
    # paused only around the kind's work, it walked them all (the H&M orders import:
    # 94 ms of collections, now 62).
    with collection_paused():
        return _run_batch(
            session,
            job_id,
            readers=readers,
            batch_rows=batch_rows,
            expected_position=expected_position,
        )


def _run_batch(
    session: Session,
    job_id: UUID,
    *,
    readers: ReaderCache,
    batch_rows: int | None,
    expected_position: int | None,
) -> BatchResult:
    job = repository.get_job(session, job_id, lock=True)
    if job is None:
        return BatchResult(JobStatus.FAILED, 0, finished=True, ran=False)
    if job.status not in JobStatus.UNFINISHED:
        return BatchResult(job.status, job.position, finished=True, ran=False)
    if expected_position is not None and job.position != expected_position:
        return BatchResult(job.status, job.position, finished=False, ran=False)
    now = utcnow()
    job.status = JobStatus.RUNNING
    job.started_at = job.started_at or now
    job.updated_at = now
    kind = registry.kind(job.kind)
    if kind is None:
        _fail(job, f"no importer for the kind {job.kind!r}")
        return BatchResult(job.status, job.position, finished=True)
    try:
        taken = readers.reader_for(job).take(
            job.position, batch_rows or settings_of(session).import_batch_rows
        )
    except (ImportFileError, formats.FormatError) as exc:
        readers.drop(job.id)
        _fail(job, str(exc))
        _finish_failed(session, kind, job)
        return BatchResult(job.status, job.position, finished=True)
    if taken.columns is not None:
        job.ignored_columns = ignored_columns(kind, taken.columns)
    try:
        outcome = _apply(session, kind, taken.rows, service.options_of(job))
    except Exception as exc:
        readers.drop(job.id)
        job.attempts += 1
        job.error = f"a batch failed ({type(exc).__name__}); tried {job.attempts} times"
        logger.warning("import %s: a batch failed: %s", job.id, type(exc).__name__)
        if job.attempts >= MAX_ATTEMPTS:
            _fail(job, job.error)
            _finish_failed(session, kind, job)
            return BatchResult(job.status, job.position, finished=True)
        return BatchResult(job.status, job.position, finished=False)
    _record(session, job, taken, outcome)
    if taken.broken is not None:
        readers.drop(job.id)
        _fail(job, taken.broken)
        _finish_failed(session, kind, job)
        return BatchResult(job.status, job.position, finished=True)
    if job.status == JobStatus.DONE:
        _finish(session, kind, job)
    return BatchResult(job.status, job.position, finished=job.status == JobStatus.DONE)


def _finish(session: Session, kind: ImportKind, job: ImportJob) -> None:
    """The kind's once-per-import work, in the last batch's transaction (kinds.py)."""
    options = service.options_of(job)
    if isinstance(kind, FinishingKind) and not options.dry_run:
        kind.finish(session, options=options, since=job.created_at)


def _finish_failed(session: Session, kind: ImportKind, job: ImportJob) -> None:
    """A failed job's batches that committed still count: the kind's end runs for them,
    in a savepoint (the database may be what failed; the failure is recorded either way)."""
    if job.position == 0:
        return
    try:
        with savepoint(session, keep=True):
            _finish(session, kind, job)
    except Exception as exc:
        logger.warning("import %s: its end could not run: %s", job.id, type(exc).__name__)


def after_import(session: Session, job_id: UUID) -> None:
    """What an ended import leads to, in a transaction of its own (kinds.FollowedKind).
    The job is read before that transaction begins, so a follow-up that reads at length
    first (every profile, to look for duplicates) holds SQLite's write lock only to write."""
    with long_read(session) as reader:
        job = repository.get_job(reader, job_id)
    if job is None:
        return
    kind = registry.kind(job.kind)
    if (
        isinstance(kind, FollowedKind)
        and job.status == JobStatus.DONE
        and not service.options_of(job).dry_run
        and job.rows_created + job.rows_updated > 0
    ):
        kind.follow_up(session)


def _record(session: Session, job: ImportJob, taken: Taken, outcome: BatchOutcome) -> None:
    problems = sorted(taken.problems + outcome.problems, key=lambda p: (p.row, p.field))
    repository.add_errors(session, job.id, problems)
    job.rows_read += taken.read
    job.rows_created += outcome.created
    job.rows_updated += outcome.updated
    job.rows_unchanged += outcome.unchanged
    job.rows_failed += len({p.row for p in problems})
    job.rows_skipped += taken.skipped
    job.position = taken.last
    job.attempts = 0
    job.error = None
    if taken.at_end:
        job.status = JobStatus.DONE
        job.finished_at = utcnow()


def remove_spooled_file(job: ImportJob) -> None:
    """An uploaded (or standard input's) file, gone once its job has ended: it holds
    personal data. A file the command line was pointed at is the operator's own."""
    if job.file_source == JobSource.SPOOLED and job.status not in JobStatus.UNFINISHED:
        Path(job.file_path).unlink(missing_ok=True)


# -- on the worker --

WORKER_READERS = ReaderCache()


def batch_fired(session: Session, timer: Timer) -> None:
    """One batch of an uploaded file's job; the next is scheduled in the same transaction."""
    job_id = UUID(timer.payload["job_id"])
    result = run_batch(
        session, job_id, readers=WORKER_READERS, expected_position=int(timer.payload["position"])
    )
    if not result.ran:
        return
    job = repository.get_job(session, job_id)
    if job is None:
        return
    if result.finished:
        WORKER_READERS.drop(job_id)
        service.schedule_cleanup(session, job)
        service.schedule_after(session, job)
        return
    delay = retry_delay(job.attempts).total_seconds() if job.attempts else 0.0
    service.schedule_batch(session, job, delay=delay)


def after_fired(session: Session, timer: Timer) -> None:
    after_import(session, UUID(timer.payload["job_id"]))


def cleanup_fired(session: Session, timer: Timer) -> None:
    """After the transaction that ended the job: its spooled file is deleted."""
    job = repository.get_job(session, UUID(timer.payload["job_id"]))
    if job is not None:
        remove_spooled_file(job)


def sweep(session: Session) -> None:
    """Periodic: spooled files no unfinished job reads (an upload whose request failed
    after the file was written, a cleanup that never ran) are deleted."""
    folder = Path(settings_of(session).data_dir) / SPOOL_FOLDER
    if not folder.is_dir():
        return
    in_use = service.spooled_files_in_use(session)
    oldest = (utcnow() - ORPHAN_AGE).timestamp()
    for path in folder.iterdir():
        if str(path) not in in_use and path.is_file() and path.stat().st_mtime < oldest:
            path.unlink(missing_ok=True)
