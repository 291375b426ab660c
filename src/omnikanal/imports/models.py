from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import BigInteger, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from omnikanal.db import Base, JSONDocument
from omnikanal.kit.ids import new_id
from omnikanal.kit.time import utcnow


class JobStatus:
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    UNFINISHED = (QUEUED, RUNNING)
    ALL = (QUEUED, RUNNING, DONE, FAILED)


class JobSource:
    # A file the command line was given: read where it is, never deleted.
    PATH = "path"
    # Standard input or an upload, kept in the data folder until the job is done.
    SPOOLED = "spooled"


class ImportJob(Base):
    """One import of one file, run a batch per transaction (``jobs.py``); ``position`` is
    the last data row whose batch is committed, so a killed import resumes after it.

    Holds no row's values: the file holds them, and is deleted when the job ends if it
    was spooled into the data folder."""

    __tablename__ = "imports_job"
    __table_args__ = (
        Index("ix_imports_job_created", "created_at"),
        Index("ix_imports_job_fingerprint", "fingerprint", "status"),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(20))
    format: Mapped[str] = mapped_column(String(20))
    # {"map": {"E-post": "email"}, "dry_run": bool, "award_points": bool,
    #  "location": str | None, "channel": str | None, "encoding": str (utf-8 if absent)}
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(20), default=JobStatus.QUEUED)
    rows_read: Mapped[int] = mapped_column(default=0)
    rows_created: Mapped[int] = mapped_column(default=0)
    rows_updated: Mapped[int] = mapped_column(default=0)
    rows_unchanged: Mapped[int] = mapped_column(default=0)
    rows_failed: Mapped[int] = mapped_column(default=0)
    # Rows the format passes over on purpose (a Shopify product's image-only rows).
    rows_skipped: Mapped[int] = mapped_column(default=0)
    # The file's columns (after the map) the kind does not read: said, not silently lost.
    ignored_columns: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    position: Mapped[int] = mapped_column(default=0)
    file_path: Mapped[str] = mapped_column(Text)
    file_source: Mapped[str] = mapped_column(String(20), default=JobSource.PATH)
    file_size: Mapped[int] = mapped_column(BigInteger, default=0)
    # The file and settings, hashed: the command line resumes an unfinished job for them.
    fingerprint: Mapped[str] = mapped_column(String(64))
    # Failed attempts at the current batch (an unexpected error; retried, then failed).
    attempts: Mapped[int] = mapped_column(default=0)
    # Why the job failed, by kind of error only (a message may quote the file's values).
    error: Mapped[str | None] = mapped_column(Text)
    # The secret key or staff account that uploaded it; None from the command line.
    created_by: Mapped[UUID | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ImportRowError(Base):
    """A rejected row: its number, the hub field and why; never the value itself."""

    __tablename__ = "imports_error"
    __table_args__ = (Index("ix_imports_error_job_row", "job_id", "row"),)

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    job_id: Mapped[UUID]
    row: Mapped[int]
    field: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(500))
