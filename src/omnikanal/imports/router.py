"""Upload a file to import, follow its job, download its error report."""

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, File, Form, Request, Response, UploadFile
from fastapi.responses import StreamingResponse

from omnikanal.http import DbSession
from omnikanal.imports import formats, reading, service
from omnikanal.imports.dependencies import Importer
from omnikanal.imports.models import ImportJob
from omnikanal.imports.schemas import ImportCounts, ImportJobPage, ImportJobRead, ImportOptionsRead
from omnikanal.kit.pagination import PageParams, decode_time_cursor, encode_time_cursor, page_params

router = APIRouter(tags=["imports"])

IMPORTS_PATH = "/v1/imports"
CSV = "text/csv"
UPLOAD_ANSWER: dict[int | str, dict[str, Any]] = {
    202: {
        "description": "The import is queued for the worker: follow it at Location.",
        "headers": {
            "Location": {
                "description": "The job's status, /v1/imports/{id}.",
                "schema": {"type": "string"},
            }
        },
    }
}
ERRORS_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "CSV with a header: row, field, reason. Never the rejected value.",
        "content": {CSV: {"schema": {"type": "string"}}},
    }
}


def job_location(job_id: UUID) -> str:
    return f"{IMPORTS_PATH}/{job_id}"


def job_read(job: ImportJob) -> ImportJobRead:
    options = job.options
    return ImportJobRead(
        id=job.id,
        kind=job.kind,
        format=job.format,
        status=job.status,
        options=ImportOptionsRead(
            map=dict(options.get("map") or {}),
            dry_run=bool(options.get("dry_run")),
            award_points=bool(options.get("award_points")),
            location=options.get("location"),
            channel=options.get("channel"),
            encoding=options.get("encoding", reading.UTF8),
        ),
        counts=ImportCounts(
            read=job.rows_read,
            created=job.rows_created,
            updated=job.rows_updated,
            unchanged=job.rows_unchanged,
            failed=job.rows_failed,
            skipped=job.rows_skipped,
        ),
        ignored_columns=list(job.ignored_columns),
        position=job.position,
        file_size=job.file_size,
        error=job.error,
        errors_url=f"{job_location(job.id)}/errors",
        created_by=job.created_by,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )


@router.post(
    IMPORTS_PATH,
    status_code=202,
    response_model=ImportJobRead,
    responses=UPLOAD_ANSWER,
    summary="Import a file",
)
def upload(
    request: Request,
    response: Response,
    session: DbSession,
    actor: Importer,
    file: Annotated[UploadFile, File(description="CSV or JSON Lines; gzip is recognised.")],
    kind: Annotated[str, Form(description="customers, products, prices, stock or orders.")],
    format: Annotated[str, Form(description="hub or shopify.")] = formats.HUB,
    map: Annotated[
        str, Form(max_length=5000, description='Column map: "E-post=email,Mobil=phone".')
    ] = "",
    dry_run: Annotated[bool, Form(description="Validate everything, write nothing.")] = False,
    award_points: Annotated[bool, Form(description="Orders: earn loyalty points.")] = False,
    location: Annotated[
        str | None, Form(max_length=100, description="Default store for rows without one.")
    ] = None,
    channel: Annotated[
        str | None, Form(max_length=20, description="Default channel for rows without one.")
    ] = None,
    encoding: Annotated[
        str,
        Form(
            max_length=40,
            description="The file's text encoding: utf-8 (default), utf-16, cp1252 (Excel "
            "on Windows), iso8859-1, iso8859-15, cp850 or mac-roman.",
        ),
    ] = reading.UTF8,
) -> ImportJobRead:
    """Upload a file to import as a durable job the worker runs a batch per transaction.
    The file is kept in the data folder until the job is done, then deleted (it holds
    personal data); the error report stays. Admins only."""
    found = service.upload(
        session,
        request=service.ImportRequest(
            kind=kind,
            format=format,
            column_map=service.column_map(map),
            dry_run=dry_run,
            award_points=award_points,
            location=location or None,
            channel=channel or None,
            encoding=service.encoding(encoding),
        ),
        stream=file.file,
        data_dir=Path(request.app.state.settings.data_dir),
        created_by=actor.credential_id,
    )
    response.headers["Location"] = job_location(found.id)
    return job_read(found)


@router.get(IMPORTS_PATH, response_model=ImportJobPage)
def list_imports(
    session: DbSession, _: Importer, page: Annotated[PageParams, Depends(page_params)]
) -> ImportJobPage:
    """Imports, newest first."""
    found = service.jobs(
        session,
        before=decode_time_cursor(page.cursor) if page.cursor else None,
        limit=page.limit + 1,
    )
    shown = list(found[: page.limit])
    next_cursor = None
    if len(found) > page.limit:
        next_cursor = encode_time_cursor(shown[-1].created_at, shown[-1].id)
    return ImportJobPage(items=[job_read(j) for j in shown], next_cursor=next_cursor)


@router.get(f"{IMPORTS_PATH}/{{import_id}}", response_model=ImportJobRead)
def get_import(import_id: UUID, session: DbSession, _: Importer) -> ImportJobRead:
    """An import's status and counts."""
    return job_read(service.get(session, job_id=import_id))


def _csv_lines(rows: Iterator[tuple[int, str, str]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(("row", "field", "reason"))
    for row in rows:
        writer.writerow(row)
        if buffer.tell() > 65_536:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


@router.get(
    f"{IMPORTS_PATH}/{{import_id}}/errors",
    response_class=StreamingResponse,
    responses=ERRORS_ANSWER,
)
def import_errors(import_id: UUID, session: DbSession, _: Importer) -> StreamingResponse:
    """The rejected rows: row number, hub field and why — never the value."""
    rows = service.errors(session, job_id=import_id)
    return StreamingResponse(
        _csv_lines(rows),
        media_type=CSV,
        headers={
            "Content-Disposition": f'attachment; filename="import-{import_id}-errors.csv"',
        },
    )
