from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, Field


class ImportCounts(BaseModel):
    read: int = Field(description="Data rows read so far.")
    created: int
    updated: int
    unchanged: int = Field(description="Rows the hub already held as given (a second run).")
    failed: int = Field(description="Rows rejected; the error report says why.")
    skipped: int = Field(description="Rows the format passes over (Shopify image rows).")


class ImportOptionsRead(BaseModel):
    map: dict[str, str] = Field(description="The column map: file column -> hub field.")
    dry_run: bool
    award_points: bool
    location: str | None
    channel: str | None
    encoding: str = Field(description="The file's text encoding (utf-8 unless given).")


class ImportJobRead(BaseModel):
    id: UUID
    kind: str = Field(description="customers, products, prices, stock or orders.")
    format: str = Field(description="hub or shopify.")
    status: str = Field(description="queued, running, done or failed.")
    options: ImportOptionsRead
    counts: ImportCounts
    ignored_columns: list[str] = Field(
        description="Columns of the file (after the column map) this kind does not read: "
        "their cells were not imported. Map them (`map`) to the hub's fields."
    )
    position: int = Field(description="The last row whose batch is committed.")
    file_size: int = Field(description="Bytes of the file as uploaded.")
    error: str | None = Field(description="Why the job failed (never a row's values).")
    errors_url: str = Field(description="The error report: CSV of row, field, reason.")
    created_by: UUID | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class ImportJobPage(BaseModel):
    items: list[ImportJobRead]
    next_cursor: str | None = None
