from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from omnikanal.db import Base
from omnikanal.kit.ids import new_id
from omnikanal.kit.time import utcnow


class TimerStatus:
    SCHEDULED = "scheduled"
    FIRED = "fired"
    CANCELLED = "cancelled"
    FAILED = "failed"


class Timer(Base):
    """One piece of work due at ``due_at``; (kind, key) names it, so scheduling is an upsert."""

    __tablename__ = "timer"
    __table_args__ = (
        UniqueConstraint("kind", "key"),
        Index("ix_timer_due", "status", "due_at"),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(200))
    due_at: Mapped[datetime]
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(20), default=TimerStatus.SCHEDULED)
    attempts: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    fired_at: Mapped[datetime | None]
