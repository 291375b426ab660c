"""The rules of an export's cursor: where a run starts, and how a finished run moves it on.

A run is recorded in two steps (see ``runner``): ``record_pending`` once its files are
complete under temporary names, ``complete`` once they are renamed into place. The cursor
only moves in ``complete``, so a run that dies before it moves nothing it did not finish.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

from sqlalchemy.orm import Session

from omnikanal.errors import NotFound, RuleViolation
from omnikanal.exports import repository
from omnikanal.exports.models import ExportCursor
from omnikanal.exports.schemas import Format, Kind
from omnikanal.kit.time import utcnow

# Rows changed this recently wait for the next run (see ``runner``).
DEFAULT_SETTLE = timedelta(seconds=30)
DEFAULT_CHUNK_ROWS = 10_000


class ExportErrorCode(StrEnum):
    CURSOR_NOT_FOUND = "export_cursor_not_found"
    # A folder holds one format: parquet and CSV parts of one kind would not read as one.
    FORMAT_MISMATCH = "export_format_mismatch"
    # --since and --full both name where to start.
    CONFLICTING_START = "export_conflicting_start"


@dataclass(frozen=True)
class Window:
    """What a run exports: changes after ``start`` (None: from the beginning) up to
    ``until``; ``since`` filters events by when they were received."""

    start: datetime | None
    until: datetime
    since: datetime | None = None


def cursor_for(session: Session, *, kind: Kind, destination: str, fmt: Format) -> ExportCursor:
    """The cursor of ``kind`` exports to ``destination``, made on the first run."""
    cursor = repository.find_cursor(session, kind=kind.value, destination=destination)
    if cursor is None:
        cursor = ExportCursor(
            kind=kind.value,
            destination=destination,
            format=fmt.value,
            rows=0,
            files=0,
            bytes=0,
            runs=0,
        )
        repository.add_cursor(session, cursor)
    elif cursor.format != fmt.value:
        raise RuleViolation(
            ExportErrorCode.FORMAT_MISMATCH,
            f"{destination} holds {cursor.format} exports of {kind.value}; "
            f"export {fmt.value} to another folder",
        )
    return cursor


def window(
    cursor: ExportCursor,
    *,
    until: datetime,
    since: datetime | None,
    full: bool,
) -> Window:
    """Where this run starts: ``since`` when given (a start chosen by hand), the beginning
    with ``full``, else where the last run ended."""
    if since is not None and full:
        raise RuleViolation(ExportErrorCode.CONFLICTING_START, "give --since or --full, not both")
    if since is not None:
        return Window(start=since, until=until, since=since)
    if full:
        return Window(start=None, until=until)
    return Window(start=cursor.position_time, until=until)


def _get(session: Session, cursor_id: UUID) -> ExportCursor:
    cursor = repository.get_cursor(session, cursor_id)
    if cursor is None:
        raise NotFound(ExportErrorCode.CURSOR_NOT_FOUND, f"no export cursor {cursor_id}")
    return cursor


def record_pending(
    session: Session,
    *,
    cursor_id: UUID,
    run: str,
    files: Sequence[str],
    position: str | None,
    position_time: datetime,
    rows: int,
    size: int,
) -> None:
    """A run's files are complete (under temporary names): what ``complete`` will apply."""
    cursor = _get(session, cursor_id)
    cursor.pending = {
        "run": run,
        "files": list(files),
        "position": position,
        "position_time": position_time.isoformat(),
        "rows": rows,
        "bytes": size,
    }
    cursor.updated_at = utcnow()
    session.flush()


def pending_files(cursor: ExportCursor) -> list[str]:
    return list(cursor.pending["files"]) if cursor.pending else []


def complete(session: Session, *, cursor_id: UUID) -> ExportCursor:
    """The pending run's files are in place: move the cursor to where that run ended."""
    cursor = _get(session, cursor_id)
    pending: dict[str, Any] | None = cursor.pending
    if pending is None:
        return cursor
    if pending["position"] is not None:
        cursor.position = pending["position"]
    cursor.position_time = datetime.fromisoformat(pending["position_time"])
    cursor.rows += int(pending["rows"])
    cursor.files += len(pending["files"])
    cursor.bytes += int(pending["bytes"])
    cursor.runs += 1
    cursor.pending = None
    cursor.updated_at = utcnow()
    session.flush()
    return cursor


def cursors(session: Session) -> Sequence[ExportCursor]:
    return repository.cursors(session)
