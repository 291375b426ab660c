"""create exports cursor

Revision ID: c0a1e55a0009
Revises: c0a1e55a0003
Create Date: 2026-11-30 14:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import omnikanal.db

revision: str = "c0a1e55a0009"
down_revision: str | None = "c0a1e55a0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "exports_cursor",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("destination", sa.String(length=1000), nullable=False),
        sa.Column("format", sa.String(length=10), nullable=False),
        sa.Column("position", sa.String(length=64), nullable=True),
        sa.Column("position_time", omnikanal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("files", sa.BigInteger(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("pending", JSON_DOCUMENT, nullable=True),
        sa.Column("created_at", omnikanal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", omnikanal.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exports_cursor")),
        sa.UniqueConstraint("kind", "destination", name=op.f("uq_exports_cursor_kind_destination")),
    )


def downgrade() -> None:
    op.drop_table("exports_cursor")
