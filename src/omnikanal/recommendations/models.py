"""A trained model and its precomputed lists.

Training writes a new model (its own version) with every list, then makes it the active
one in the same transaction: a reader sees the old model's lists or the new model's,
never a mix. The model before the active one is kept, so a request that read the old
version just before the swap still finds its lists; older ones are deleted.
"""

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from omnikanal.db import Base, JSONDocument
from omnikanal.kit.ids import new_id
from omnikanal.kit.time import utcnow


class ModelStatus:
    # Stored, not served yet (only ever seen inside the training's transaction).
    READY = "ready"
    ACTIVE = "active"
    RETIRED = "retired"


class RecommendationModel(Base):
    """One training run: its version, what it was trained on, and how long it took."""

    __tablename__ = "recommendation_model"
    __table_args__ = (Index("ix_recommendation_model_status", "status", "version"),)

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    version: Mapped[int] = mapped_column(unique=True)
    status: Mapped[str] = mapped_column(String(10))
    trained_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The newest interaction it saw (the history it knows ends there).
    history_until: Mapped[datetime | None]
    people: Mapped[int]
    items: Mapped[int]
    interactions: Mapped[int]
    seconds: Mapped[float]
    # {"factors": 64, "iterations": 15, "regularization": 0.05, "alpha": 10, ...}
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)


class PersonList(Base):
    """A person's (a live profile's at training time) ranked candidates with their
    reasons: ``items`` is ``[[sku, score, reason, reason_sku], ...]``; ``bought`` the
    SKUs they bought and will not buy again (left out at serving time too)."""

    __tablename__ = "recommendation_person"
    __table_args__ = (Index("ix_recommendation_person_profile", "profile_id"),)

    model_id: Mapped[UUID] = mapped_column(primary_key=True)
    profile_id: Mapped[UUID] = mapped_column(primary_key=True)
    items: Mapped[list[Any]] = mapped_column(JSONDocument, default=list)
    bought: Mapped[list[str]] = mapped_column(JSONDocument, default=list)


class ListKind:
    # SKU -> the SKUs that go with it (item-to-item similarity).
    RELATED = "related"
    # A store's code (or "" for everywhere) -> its best sellers.
    POPULAR = "popular"


class ItemList(Base):
    """A list that names no person: ``items`` is ``[[sku, score], ...]``."""

    __tablename__ = "recommendation_list"

    model_id: Mapped[UUID] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    items: Mapped[list[Any]] = mapped_column(JSONDocument, default=list)
