from datetime import datetime
from uuid import UUID

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from omnikanal.db import Base
from omnikanal.kit.ids import new_id
from omnikanal.kit.time import utcnow


class ConsoleSession(Base):
    """A person signed in on a browser. The cookie holds a random token; only its hash is
    stored. It ends after an idle time (``last_seen_at``), at ``expires_at`` at the latest,
    on sign-out, and when the account is disabled."""

    __tablename__ = "console_session"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    staff_account_id: Mapped[UUID] = mapped_column(
        ForeignKey("auth_staff_account.id", ondelete="CASCADE"), index=True
    )
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


class WorkerBeat(Base):
    """A worker process said it is alive (every few seconds): the admins' health page tells
    from the latest beat whether timers and deliveries are being worked on."""

    __tablename__ = "console_worker_beat"

    holder: Mapped[str] = mapped_column(String(200), primary_key=True)
    beat_at: Mapped[datetime] = mapped_column(default=utcnow)
