from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from omnikanal.db import Base, JSONDocument
from omnikanal.kit.ids import new_id
from omnikanal.kit.time import utcnow


class Unit:
    # Each person (every channel and device of theirs) gets a variant.
    PERSON = "person"
    # Each store (location) gets a variant: everyone buying there is in it.
    STORE = "store"
    ALL = (PERSON, STORE)


class Status:
    DRAFT = "draft"
    RUNNING = "running"
    STOPPED = "stopped"


class Metric:
    # Share of people who ordered (any channel) within ``window_days`` after exposure.
    CONVERSION = "conversion"
    # Revenue (minor units) per person within the window, every channel, zeros included.
    REVENUE = "revenue"
    ORDERS = "orders"
    # Average order value: revenue per order, of those who ordered.
    AOV = "aov"
    # Share of bought units returned, of those who ordered.
    RETURN_RATE = "return_rate"
    # Share of satisfaction answers of 4 or 5 (support conversations, surveys) in the window.
    CSAT = "csat"
    ALL = (CONVERSION, REVENUE, ORDERS, AOV, RETURN_RATE, CSAT)


class Experiment(Base):
    """An A/B test: variants with weights, a unit (person or store), the metric it is
    judged by, guardrails that must not get worse, and when it ran.

    ``variants`` is a list of ``{"key", "weight"}`` (the first is control), each with an
    optional ``subject``, ``offer`` and ``promotion`` when the experiment varies a message
    (``target``: ``abandoned_cart`` or ``campaign:<id>``)."""

    __tablename__ = "experiment"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(10))
    variants: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument)
    audience_id: Mapped[UUID | None]
    metric: Mapped[str] = mapped_column(String(30))
    guardrails: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    window_days: Mapped[int] = mapped_column(default=14)
    # What the variants change when the hub itself shows them (an automated message, a
    # campaign); None when channels ask for the assignment and act on it.
    target: Mapped[str | None] = mapped_column(String(100), unique=True)
    status: Mapped[str] = mapped_column(String(20), default=Status.DRAFT)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    stopped_at: Mapped[datetime | None]


class Exposure(Base):
    """The first time a unit was shown its variant (append-only; read as the earliest row
    per unit). A person's row names their live profile then, or only the device's
    ``anonymous_id`` when no profile held it yet; a store's names its ``location``."""

    __tablename__ = "experiment_exposure"
    __table_args__ = (
        Index("ix_experiment_exposure_profile", "experiment_id", "profile_id"),
        Index("ix_experiment_exposure_anonymous", "experiment_id", "anonymous_id"),
        Index("ix_experiment_exposure_location", "experiment_id", "location"),
        Index("ix_experiment_exposure_person", "profile_id"),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    experiment_id: Mapped[UUID]
    variant: Mapped[str] = mapped_column(String(100))
    profile_id: Mapped[UUID | None]
    anonymous_id: Mapped[str | None] = mapped_column(String(320))
    location: Mapped[str | None] = mapped_column(String(100))
    # The channel that asked (web, app, pos, email ...), when known.
    channel: Mapped[str | None] = mapped_column(String(20))
    exposed_at: Mapped[datetime] = mapped_column(default=utcnow)
