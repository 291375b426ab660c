"""create privacy request and marketing suppression

Revision ID: c0a1e55a0003
Revises: c0a1e55a0002
Create Date: 2026-11-30 10:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import omnikanal.db

revision: str = "c0a1e55a0003"
down_revision: str | None = "c0a1e55a0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "privacy_request",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("profile_id", sa.Uuid(), nullable=False),
        sa.Column("profile_ids", JSON_DOCUMENT, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("steps", JSON_DOCUMENT, nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("requested_by", sa.Uuid(), nullable=False),
        sa.Column("requested_at", omnikanal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", omnikanal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", omnikanal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", omnikanal.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_request")),
    )
    op.create_index("ix_privacy_request_profile", "privacy_request", ["profile_id", "status"])
    op.create_table(
        "marketing_suppression",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=50), nullable=False),
        sa.Column("created_at", omnikanal.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_marketing_suppression")),
        sa.UniqueConstraint("digest", name=op.f("uq_marketing_suppression_digest")),
    )


def downgrade() -> None:
    op.drop_table("marketing_suppression")
    op.drop_index("ix_privacy_request_profile", table_name="privacy_request")
    op.drop_table("privacy_request")
