"""Every query of the imports domain."""

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import cast
from uuid import UUID

from sqlalchemy import Table, and_, insert, or_, select
from sqlalchemy.orm import Session

from omnikanal.imports.kinds import RowProblem
from omnikanal.imports.models import ImportJob, ImportRowError, JobSource, JobStatus
from omnikanal.kit.ids import new_id

error_table = cast(Table, ImportRowError.__table__)
ERROR_PAGE = 2000


def get_job(session: Session, job_id: UUID, *, lock: bool = False) -> ImportJob | None:
    query = select(ImportJob).where(ImportJob.id == job_id)
    if lock:
        # Read as it is now (another runner may have moved it), and held until commit.
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.scalar(query)


def unfinished_job(session: Session, fingerprint: str) -> ImportJob | None:
    return session.scalar(
        select(ImportJob)
        .where(ImportJob.fingerprint == fingerprint, ImportJob.status.in_(JobStatus.UNFINISHED))
        .order_by(ImportJob.created_at)
        .limit(1)
    )


def jobs_page(
    session: Session, *, before: tuple[datetime, UUID] | None, limit: int
) -> Sequence[ImportJob]:
    """Newest first; ``before`` is the (created_at, id) of the last job of the page before."""
    query = select(ImportJob)
    if before is not None:
        at, job_id = before
        query = query.where(
            or_(
                ImportJob.created_at < at,
                and_(ImportJob.created_at == at, ImportJob.id < job_id),
            )
        )
    query = query.order_by(ImportJob.created_at.desc(), ImportJob.id.desc()).limit(limit)
    return session.scalars(query).all()


def spooled_files_in_use(session: Session) -> set[str]:
    query = select(ImportJob.file_path).where(
        ImportJob.file_source == JobSource.SPOOLED, ImportJob.status.in_(JobStatus.UNFINISHED)
    )
    return set(session.scalars(query))


def add_errors(session: Session, job_id: UUID, problems: Sequence[RowProblem]) -> None:
    if problems:
        session.execute(
            insert(error_table),
            [
                {
                    "id": new_id(),
                    "job_id": job_id,
                    "row": p.row,
                    "field": p.field[:200],
                    "reason": p.reason[:500],
                }
                for p in problems
            ],
        )


def errors_of(
    session: Session, job_id: UUID, *, limit: int | None = None
) -> Iterator[tuple[int, str, str]]:
    """(row, field, reason) of the job's rejected rows in row order, a page at a time."""
    after: tuple[int, UUID] | None = None
    given = 0
    c = error_table.c
    while limit is None or given < limit:
        query = select(c.row, c.field, c.reason, c.id).where(c.job_id == job_id)
        if after is not None:
            query = query.where(or_(c.row > after[0], and_(c.row == after[0], c.id > after[1])))
        page_size = ERROR_PAGE if limit is None else min(ERROR_PAGE, limit - given)
        page = session.execute(query.order_by(c.row, c.id).limit(page_size)).all()
        for row, field, reason, _ in page:
            yield row, field, reason
        given += len(page)
        if len(page) < page_size:
            return
        after = (page[-1][0], page[-1][3])
