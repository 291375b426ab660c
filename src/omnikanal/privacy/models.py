from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from omnikanal.db import Base, JSONDocument
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


class RequestStatus:
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    UNFINISHED = (QUEUED, RUNNING)


class StepStatus:
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class PrivacyRequest(Base):
    """An erasure, run by the worker one domain at a time (``erasure.py``).

    Holds ids only: the person's identifiers are gathered again from the customers domain
    at every step, so nothing here names them once the job is done."""

    __tablename__ = "privacy_request"
    __table_args__ = (Index("ix_privacy_request_profile", "profile_id", "status"),)

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(20))
    # The profile asked about, and every profile of the person found since (merged ones).
    profile_id: Mapped[UUID]
    profile_ids: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    status: Mapped[str] = mapped_column(String(20), default=RequestStatus.QUEUED)
    # One entry per domain, in the order they run: {"domain", "status", "count",
    # "attempts", "error", "done_at"}.
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument, default=list)
    error: Mapped[str | None] = mapped_column(Text)
    # The secret key or staff account that asked.
    requested_by: Mapped[UUID]
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
