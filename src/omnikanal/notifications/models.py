from datetime import datetime
from uuid import UUID

from sqlalchemy import Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from omnikanal.db import Base
from omnikanal.kit.ids import new_id
from omnikanal.kit.time import utcnow


class NotificationStatus:
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"
    # Nothing to send it to (no app, no address): recorded with the reason in last_error.
    SUPPRESSED = "suppressed"
    ALL = (QUEUED, SENT, FAILED, SUPPRESSED)


class Notification(Base):
    """A message the customer is owed (the order is ready for pickup), recorded when it
    becomes due; the delivery adapters send what is queued."""

    __tablename__ = "notifications_notification"
    __table_args__ = (
        # One notice per thing it is about: a redelivered event records nothing new.
        UniqueConstraint("kind", "reference"),
        Index("ix_notifications_notification_profile", "profile_id", "created_at"),
        Index("ix_notifications_notification_status", "status", "created_at"),
        # Retention finds notices past OMNIKANAL_RETENTION_NOTIFICATION_DAYS still holding
        # their bodies (the NULLs) without reading the ones already done.
        Index("ix_notifications_notification_retention", "body_removed_at", "created_at"),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(50))
    reference: Mapped[str] = mapped_column(String(200))
    profile_id: Mapped[UUID | None]
    # push, email or sms
    channel: Mapped[str] = mapped_column(String(20))
    # An email address, a phone number, or the profile for push (the app's device).
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default=NotificationStatus.QUEUED)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    # When retention blanked the body.
    body_removed_at: Mapped[datetime | None]
