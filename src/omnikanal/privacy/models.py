from datetime import datetime
from uuid import UUID

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from omnikanal.db import Base
from omnikanal.kit.ids import new_id
from omnikanal.kit.time import utcnow


class AccessLogEntry(Base):
    """One read of a person's data by staff or a back end: who, when, what and why."""

    __tablename__ = "privacy_access_log"
    __table_args__ = (
        Index("ix_privacy_access_log_profile_at", "profile_id", "at"),
        Index("ix_privacy_access_log_at", "at"),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    # The secret key or staff account that read (auth.service.CredentialKind), by id and name
    # as it was then, so the entry still says who after a key is revoked.
    actor_kind: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[UUID]
    actor_name: Mapped[str] = mapped_column(String(200))
    actor_role: Mapped[str] = mapped_column(String(20))
    # What was read: profile, profile_360, export, conversation, transcript ...
    action: Mapped[str] = mapped_column(String(40))
    profile_id: Mapped[UUID | None]
    conversation_id: Mapped[UUID | None]
    # Where asked (agents exporting), the reason given; staff may type a name here, so
    # erasure blanks it.
    reason: Mapped[str | None] = mapped_column(Text)
