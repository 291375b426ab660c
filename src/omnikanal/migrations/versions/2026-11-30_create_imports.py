"""create imports job and error tables

Revision ID: c0a1e55a0007
Revises: c0a1e55a0008
Create Date: 2026-11-30 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import omnikanal.db

revision: str = "c0a1e55a0007"
down_revision: str | None = "c0a1e55a0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "imports_job",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("format", sa.String(length=20), nullable=False),
        sa.Column("options", JSON_DOCUMENT, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("rows_read", sa.Integer(), nullable=False),
        sa.Column("rows_created", sa.Integer(), nullable=False),
        sa.Column("rows_updated", sa.Integer(), nullable=False),
        sa.Column("rows_unchanged", sa.Integer(), nullable=False),
        sa.Column("rows_failed", sa.Integer(), nullable=False),
        sa.Column("rows_skipped", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("file_path", sa.Text(), nullable=False),
        sa.Column("file_source", sa.String(length=20), nullable=False),
        sa.Column("file_size", sa.BigInteger(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", omnikanal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", omnikanal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", omnikanal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", omnikanal.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_imports_job")),
    )
    op.create_index("ix_imports_job_created", "imports_job", ["created_at"])
    op.create_index("ix_imports_job_fingerprint", "imports_job", ["fingerprint", "status"])
    op.create_table(
        "imports_error",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("row", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_imports_error")),
    )
    op.create_index("ix_imports_error_job_row", "imports_error", ["job_id", "row"])


def downgrade() -> None:
    op.drop_index("ix_imports_error_job_row", table_name="imports_error")
    op.drop_table("imports_error")
    op.drop_index("ix_imports_job_fingerprint", table_name="imports_job")
    op.drop_index("ix_imports_job_created", table_name="imports_job")
    op.drop_table("imports_job")
