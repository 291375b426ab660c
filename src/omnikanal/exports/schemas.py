"""The exports' kinds and formats, and the API's view of the cursors."""

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel


class Kind(StrEnum):
    EVENTS = "events"
    ORDERS = "orders"
    PROFILES = "profiles"


class Format(StrEnum):
    PARQUET = "parquet"
    CSV = "csv"


class CursorRead(BaseModel):
    kind: Kind
    destination: str
    format: Format
    position: str | None
    position_time: datetime | None
    rows: int
    files: int
    bytes: int
    runs: int
    pending: bool
    updated_at: datetime
