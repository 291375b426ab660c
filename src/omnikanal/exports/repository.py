"""Every query of the exports domain."""

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from omnikanal.exports.models import ExportCursor


def get_cursor(session: Session, cursor_id: UUID) -> ExportCursor | None:
    return session.get(ExportCursor, cursor_id, populate_existing=True)


def find_cursor(session: Session, *, kind: str, destination: str) -> ExportCursor | None:
    return session.scalars(
        select(ExportCursor).where(
            ExportCursor.kind == kind, ExportCursor.destination == destination
        )
    ).one_or_none()


def add_cursor(session: Session, cursor: ExportCursor) -> None:
    session.add(cursor)
    session.flush()


def cursors(session: Session) -> Sequence[ExportCursor]:
    return session.scalars(
        select(ExportCursor).order_by(ExportCursor.destination, ExportCursor.kind)
    ).all()
