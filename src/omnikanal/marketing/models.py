from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from omnikanal.db import Base, JSONDocument
from omnikanal.kit.ids import new_id
from omnikanal.kit.time import utcnow


class Purpose:
    TRANSACTIONAL = "transactional"
    MARKETING = "marketing"
    # Recommendations made from the person's own history (opt-in, like marketing).
    PERSONALISATION = "personalisation"
    ALL = (TRANSACTIONAL, MARKETING, PERSONALISATION)


class ConsentChannel:
    EMAIL = "email"
    SMS = "sms"
    PUSH = "push"
    SOCIAL = "social"
    ALL = (EMAIL, SMS, PUSH, SOCIAL)


class Consent(Base):
    """One change of a person's consent for a purpose on a channel: who said so, and when.

    Append-only; the latest change per (purpose, channel) across the person's merged
    profiles is what holds."""

    __tablename__ = "marketing_consent"
    __table_args__ = (Index("ix_marketing_consent_profile", "profile_id", "changed_at"),)

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    profile_id: Mapped[UUID]
    purpose: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(20))
    granted: Mapped[bool]
    # Where the change came from: "agent", "admin", "web", "unsubscribe_link"...
    source: Mapped[str] = mapped_column(String(100))
    changed_at: Mapped[datetime]
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class MessageStatus:
    QUEUED = "queued"
    # Claimed by a worker for one attempt, which is sending it now (``messages.py``).
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CLICKED = "clicked"
    # Nothing sent: no consent, no address, nothing left in the cart.
    SUPPRESSED = "suppressed"
    ALL = (QUEUED, SENDING, SENT, FAILED, CLICKED, SUPPRESSED)


class Message(Base):
    """One message to one person on one channel, and what became of it (the message log)."""

    __tablename__ = "marketing_message"
    __table_args__ = (
        # One message per trigger firing (or campaign and person): re-runs record nothing new.
        UniqueConstraint("key"),
        Index("ix_marketing_message_profile", "profile_id", "created_at"),
        Index("ix_marketing_message_status", "status", "created_at"),
        # Retention finds messages past OMNIKANAL_RETENTION_MESSAGE_DAYS still holding
        # their bodies (the NULLs) without reading the ones already done.
        Index("ix_marketing_message_retention", "bodies_removed_at", "created_at"),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    key: Mapped[str] = mapped_column(String(200))
    # abandoned_cart, campaign
    kind: Mapped[str] = mapped_column(String(50))
    campaign_id: Mapped[UUID | None]
    profile_id: Mapped[UUID]
    cart_id: Mapped[UUID | None]
    # email, sms, push
    channel: Mapped[str] = mapped_column(String(20))
    recipient: Mapped[str | None] = mapped_column(String(320))
    template: Mapped[str] = mapped_column(String(100))
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)
    subject: Mapped[str | None] = mapped_column(String(300))
    body_text: Mapped[str | None] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default=MessageStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    clicked_at: Mapped[datetime | None]
    opened_at: Mapped[datetime | None]
    # An order placed within the attribution window after a click (the conversion).
    converted_order_id: Mapped[UUID | None]
    converted_at: Mapped[datetime | None]
    # When retention removed the subject, bodies and the context they were rendered from.
    bodies_removed_at: Mapped[datetime | None]


class Audience(Base):
    """A named rule over traits, computed traits and behaviour, evaluated on demand."""

    __tablename__ = "marketing_audience"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    rule: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# The rule of an audience whose people are a fixed list (``AudienceMember``), e.g. the
# people a funnel lost at one step.
LISTED_RULE: dict[str, Any] = {"listed": True}


class AudienceMember(Base):
    """One person on a fixed-list audience, as given (a merge is followed when read)."""

    __tablename__ = "marketing_audience_member"

    audience_id: Mapped[UUID] = mapped_column(primary_key=True)
    profile_id: Mapped[UUID] = mapped_column(primary_key=True, index=True)


class Campaign(Base):
    """One message to an audience on chosen channels, consent-aware and frequency-capped."""

    __tablename__ = "marketing_campaign"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    audience_id: Mapped[UUID] = mapped_column(index=True)
    channels: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    # Where the message's button leads (the shop); followed through a tracked link, so
    # clicks count.
    link_url: Mapped[str | None] = mapped_column(String(2000))
    # draft, scheduled (a send is due later), sending (the worker is queueing its messages), sent
    status: Mapped[str] = mapped_column(String(20), default="draft")
    # "nps": each message carries the person's signed link to answer 0-10.
    survey: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class StockAlert(Base):
    """A person asked to hear when a SKU is back in stock; notified once, then closed."""

    __tablename__ = "marketing_stock_alert"
    __table_args__ = (Index("ix_marketing_stock_alert_sku", "sku", "status"),)

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    profile_id: Mapped[UUID]
    sku: Mapped[str] = mapped_column(String(100))
    # waiting, notified
    status: Mapped[str] = mapped_column(String(20), default="waiting")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    notified_at: Mapped[datetime | None]


class Suppression(Base):
    """An address that must never be sent marketing again: an erased person's email or
    phone, kept only as a keyed hash (HMAC-SHA256 with the hub's secret key) of its
    normalised form, so the list itself names no one."""

    __tablename__ = "marketing_suppression"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    # email or phone
    kind: Mapped[str] = mapped_column(String(20))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    reason: Mapped[str] = mapped_column(String(50))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SurveyAnswer(Base):
    """A person's answer to a campaign's survey (NPS: 0-10): one per person and survey.
    ``channel`` is the message's; ``location`` the person's favourite store then."""

    __tablename__ = "marketing_survey_answer"
    __table_args__ = (UniqueConstraint("campaign_id", "profile_id"),)

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    campaign_id: Mapped[UUID]
    profile_id: Mapped[UUID] = mapped_column(index=True)
    survey: Mapped[str] = mapped_column(String(20))
    score: Mapped[int]
    comment: Mapped[str | None] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(String(20))
    location: Mapped[str | None] = mapped_column(String(100))
    answered_at: Mapped[datetime] = mapped_column(default=utcnow)
