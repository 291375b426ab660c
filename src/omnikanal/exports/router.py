"""Where each export to a warehouse has got (admin): the cursors, one per kind and folder."""

from fastapi import APIRouter

from omnikanal.auth.dependencies import AdminKey
from omnikanal.exports import service
from omnikanal.exports.models import ExportCursor
from omnikanal.exports.schemas import CursorRead, Format, Kind
from omnikanal.http import DbSession

router = APIRouter(tags=["exports"])


def cursor_read(cursor: ExportCursor) -> CursorRead:
    return CursorRead(
        kind=Kind(cursor.kind),
        destination=cursor.destination,
        format=Format(cursor.format),
        position=cursor.position,
        position_time=cursor.position_time,
        rows=cursor.rows,
        files=cursor.files,
        bytes=cursor.bytes,
        runs=cursor.runs,
        pending=cursor.pending is not None,
        updated_at=cursor.updated_at,
    )


@router.get("/v1/exports", response_model=list[CursorRead])
def list_exports(session: DbSession, _actor: AdminKey) -> list[CursorRead]:
    """Every export's cursor: what was written to which folder, and up to when."""
    return [cursor_read(cursor) for cursor in service.cursors(session)]
