from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import BigInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from omnikanal.db import Base
from omnikanal.kit.ids import new_id
from omnikanal.kit.time import utcnow


class ExportCursor(Base):
    """How far the exports of one kind to one folder have got: the next run starts here.

    Holds no personal data: an event id or a time, and counts. A run writes its files under
    temporary names, records them as ``pending``, renames them into place and then moves
    the cursor on; a run that died between the two commits is finished by the next run, so
    every row is written once.
    """

    __tablename__ = "exports_cursor"
    __table_args__ = (UniqueConstraint("kind", "destination"),)

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    # events, orders or profiles
    kind: Mapped[str] = mapped_column(String(20))
    # The folder's absolute path.
    destination: Mapped[str] = mapped_column(String(1000))
    # parquet or csv: one folder holds one format.
    format: Mapped[str] = mapped_column(String(10))
    # Events: the id of the last event written. Orders and profiles: None.
    position: Mapped[str | None] = mapped_column(String(64))
    # The end of the window written (orders: last updated, profiles: last seen, events:
    # stored before). The next run takes what changed after it.
    position_time: Mapped[datetime | None]
    rows: Mapped[int] = mapped_column(BigInteger, default=0)
    files: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    runs: Mapped[int] = mapped_column(default=0)
    # A finished run's files not yet all renamed into place, and where it moves the cursor:
    # {"run", "files": [relative paths], "position", "position_time", "rows", "bytes"}.
    pending: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
