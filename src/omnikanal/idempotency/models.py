from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from omnikanal.db import Base
from omnikanal.kit.ids import new_id
from omnikanal.kit.time import utcnow


class IdempotencyRecord(Base):
    """The first successful response to a key, replayed to every retry with that key."""

    __tablename__ = "idempotency_record"
    __table_args__ = (UniqueConstraint("principal", "key"),)

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    # A hash of the credential: keys are scoped to whoever sent them.
    principal: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int]
    response_headers: Mapped[dict[str, Any]]
    response_body: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
