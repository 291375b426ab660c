"""Import jobs: asked for, looked at, and their error reports.

Running them is ``jobs.py`` (a batch per transaction); reading files is ``reading.py``;
translating rows is ``formats.py``; each kind's rules are in its own module.
"""

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, BinaryIO
from uuid import UUID

import orjson
from sqlalchemy.orm import Session

from omnikanal.auth.models import Channel
from omnikanal.errors import NotFound, RuleViolation
from omnikanal.imports import formats, reading, registry, repository
from omnikanal.imports.kinds import ImportOptions
from omnikanal.imports.models import ImportJob, JobSource, JobStatus
from omnikanal.kit.time import utcnow
from omnikanal.timers import service as timers_service

BATCH_TIMER = "imports.batch"
CLEANUP_TIMER = "imports.cleanup"
AFTER_TIMER = "imports.after"


class ImportErrorCode(StrEnum):
    IMPORT_NOT_FOUND = "import_not_found"
    UNKNOWN_KIND = "import_kind_unknown"
    INVALID_FORMAT = "import_format_invalid"
    INVALID_COLUMN_MAP = "import_column_map_invalid"
    INVALID_CHANNEL = "import_channel_invalid"
    INVALID_ENCODING = "import_encoding_invalid"


@dataclass(frozen=True)
class ImportRequest:
    """What to import and how, checked (``check``) before any file is stored."""

    kind: str
    format: str = formats.HUB
    column_map: Mapping[str, str] | None = None
    dry_run: bool = False
    award_points: bool = False
    location: str | None = None
    channel: str | None = None
    # The file's text encoding, as ``encoding`` names it.
    encoding: str = reading.UTF8

    def options(self) -> dict[str, Any]:
        return {
            "map": dict(self.column_map or {}),
            "encoding": self.encoding,
            "dry_run": self.dry_run,
            "award_points": self.award_points,
            "location": self.location,
            "channel": self.channel,
        }


def column_map(text: str | None) -> dict[str, str]:
    try:
        return formats.parse_column_map(text)
    except formats.FormatError as exc:
        raise RuleViolation(
            ImportErrorCode.INVALID_COLUMN_MAP,
            f"{exc}; write it as 'Column=field,Other column=field'.",
            errors=[{"field": "map", "message": str(exc)}],
        ) from exc


def encoding(name: str | None) -> str:
    """The encoding a file is said to be in, as the hub names it (UTF-8 when unsaid)."""
    if not name:
        return reading.UTF8
    try:
        return reading.encoding_named(name)
    except ValueError as exc:
        raise RuleViolation(
            ImportErrorCode.INVALID_ENCODING,
            f"{exc}.",
            errors=[{"field": "encoding", "message": "unknown encoding"}],
        ) from exc


def check(request: ImportRequest) -> None:
    if request.kind not in registry.KIND_NAMES:
        raise RuleViolation(
            ImportErrorCode.UNKNOWN_KIND,
            f"Unknown kind {request.kind!r}; one of {', '.join(registry.KIND_NAMES)}.",
            errors=[{"field": "kind", "message": "unknown kind"}],
        )
    try:
        formats.check(request.format, request.kind)
    except formats.FormatError as exc:
        raise RuleViolation(
            ImportErrorCode.INVALID_FORMAT,
            f"{exc}.",
            errors=[{"field": "format", "message": str(exc)}],
        ) from exc
    if request.channel is not None and request.channel not in {c.value for c in Channel}:
        raise RuleViolation(
            ImportErrorCode.INVALID_CHANNEL,
            f"Unknown channel; one of {', '.join(c.value for c in Channel)}.",
            errors=[{"field": "channel", "message": "unknown channel"}],
        )


def fingerprint(request: ImportRequest, file_identity: str) -> str:
    """The file (by content hash, or path, size and modification time) and the settings:
    the same import asked again finds its unfinished job."""
    document = {"file": file_identity, "kind": request.kind, "format": request.format}
    document |= request.options()
    return hashlib.sha256(orjson.dumps(document, option=orjson.OPT_SORT_KEYS)).hexdigest()


def create(
    session: Session,
    *,
    request: ImportRequest,
    file_path: str,
    file_source: str,
    file_size: int,
    fingerprint: str,
    created_by: UUID | None,
    run_by_worker: bool,
) -> ImportJob:
    """Record the job; ``run_by_worker`` schedules its first batch for the worker (uploads);
    the command line runs its own."""
    check(request)
    job = ImportJob(
        kind=request.kind,
        format=request.format,
        options=request.options(),
        status=JobStatus.QUEUED,
        file_path=file_path,
        file_source=file_source,
        file_size=file_size,
        fingerprint=fingerprint,
        created_by=created_by,
    )
    session.add(job)
    session.flush()
    if run_by_worker:
        schedule_batch(session, job)
    return job


def resumable(session: Session, *, fingerprint: str) -> ImportJob | None:
    """An unfinished job of the same file and settings (one killed mid-way)."""
    return repository.unfinished_job(session, fingerprint)


def schedule_batch(session: Session, job: ImportJob, *, delay: float = 0.0) -> None:
    timers_service.schedule(
        session,
        kind=BATCH_TIMER,
        # One timer per batch and attempt: a fired timer is not armed again by its handler.
        key=f"{job.id}:{job.position}:{job.attempts}",
        due_at=utcnow() + timedelta(seconds=delay),
        payload={"job_id": str(job.id), "position": job.position},
    )


def schedule_cleanup(session: Session, job: ImportJob) -> None:
    if job.file_source == JobSource.SPOOLED:
        timers_service.schedule(
            session,
            kind=CLEANUP_TIMER,
            key=str(job.id),
            due_at=utcnow(),
            payload={"job_id": str(job.id)},
        )


def schedule_after(session: Session, job: ImportJob) -> None:
    """What the ended job leads to (``jobs.after_import``), once the worker gets to it."""
    timers_service.schedule(
        session,
        kind=AFTER_TIMER,
        key=str(job.id),
        due_at=utcnow(),
        payload={"job_id": str(job.id)},
    )


def options_of(job: ImportJob) -> ImportOptions:
    found = job.options
    return ImportOptions(
        dry_run=bool(found.get("dry_run")),
        award_points=bool(found.get("award_points")),
        location=found.get("location"),
        channel=found.get("channel"),
        import_id=job.id,
    )


def get(session: Session, *, job_id: UUID) -> ImportJob:
    found = repository.get_job(session, job_id)
    if found is None:
        raise NotFound(ImportErrorCode.IMPORT_NOT_FOUND, f"No import {job_id}.")
    return found


def jobs(
    session: Session, *, before: tuple[datetime, UUID] | None, limit: int
) -> Sequence[ImportJob]:
    return repository.jobs_page(session, before=before, limit=limit)


def errors(
    session: Session, *, job_id: UUID, limit: int | None = None
) -> Iterator[tuple[int, str, str]]:
    """(row, field, reason) of each rejected row, in row order."""
    get(session, job_id=job_id)
    return repository.errors_of(session, job_id, limit=limit)


def spooled_files_in_use(session: Session) -> set[str]:
    return repository.spooled_files_in_use(session)


def upload(
    session: Session,
    *,
    request: ImportRequest,
    stream: BinaryIO,
    data_dir: Path,
    created_by: UUID,
) -> ImportJob:
    """An uploaded file, kept in the data folder until its job is done, run by the worker."""
    check(request)
    spooled = reading.spool(stream, data_dir)
    try:
        return create(
            session,
            request=request,
            file_path=str(spooled.path),
            file_source=JobSource.SPOOLED,
            file_size=spooled.size,
            fingerprint=fingerprint(request, f"sha256:{spooled.sha256}"),
            created_by=created_by,
            run_by_worker=True,
        )
    except BaseException:
        spooled.path.unlink(missing_ok=True)
        raise
