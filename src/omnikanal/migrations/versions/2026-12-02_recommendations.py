"""recommendations: trained models and their precomputed lists

Revision ID: c0a1e55a001c
Revises: c0a1e55a001d
Create Date: 2026-12-02 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import omnikanal.db

revision: str = "c0a1e55a001c"
down_revision: str | None = "c0a1e55a001d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "recommendation_model",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("trained_at", omnikanal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("history_until", omnikanal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("people", sa.Integer(), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("interactions", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Double(), nullable=False),
        sa.Column("params", JSON_DOCUMENT, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recommendation_model")),
        sa.UniqueConstraint("version", name=op.f("uq_recommendation_model_version")),
    )
    op.create_index("ix_recommendation_model_status", "recommendation_model", ["status", "version"])
    op.create_table(
        "recommendation_person",
        sa.Column("model_id", sa.Uuid(), nullable=False),
        sa.Column("profile_id", sa.Uuid(), nullable=False),
        sa.Column("items", JSON_DOCUMENT, nullable=False),
        sa.Column("bought", JSON_DOCUMENT, nullable=False),
        sa.PrimaryKeyConstraint("model_id", "profile_id", name=op.f("pk_recommendation_person")),
    )
    op.create_index("ix_recommendation_person_profile", "recommendation_person", ["profile_id"])
    op.create_table(
        "recommendation_list",
        sa.Column("model_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("items", JSON_DOCUMENT, nullable=False),
        sa.PrimaryKeyConstraint("model_id", "kind", "key", name=op.f("pk_recommendation_list")),
    )


def downgrade() -> None:
    op.drop_table("recommendation_list")
    op.drop_index("ix_recommendation_person_profile", table_name="recommendation_person")
    op.drop_table("recommendation_person")
    op.drop_index("ix_recommendation_model_status", table_name="recommendation_model")
    op.drop_table("recommendation_model")
