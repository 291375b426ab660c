"""create customer duplicate suggestion

Revision ID: c0a1e55a000a
Revises: c0a1e55a0007
Create Date: 2026-11-30 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import omnikanal.db

revision: str = "c0a1e55a000a"
down_revision: str | None = "c0a1e55a0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "customer_duplicate_suggestion",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("profile_id", sa.Uuid(), nullable=False),
        sa.Column("other_profile_id", sa.Uuid(), nullable=False),
        sa.Column("probability", sa.Double(), nullable=False),
        sa.Column("weight", sa.Double(), nullable=False),
        sa.Column(
            "agreed",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", omnikanal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("merge_id", sa.Uuid(), nullable=True),
        sa.Column("computed_at", omnikanal.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_duplicate_suggestion")),
        sa.UniqueConstraint(
            "profile_id",
            "other_profile_id",
            name=op.f("uq_customer_duplicate_suggestion_profile_id_other_profile_id"),
        ),
    )
    op.create_index(
        "ix_customer_duplicate_suggestion_status",
        "customer_duplicate_suggestion",
        ["status", "probability"],
    )
    op.create_index(
        "ix_customer_duplicate_suggestion_other",
        "customer_duplicate_suggestion",
        ["other_profile_id"],
    )


def downgrade() -> None:
    op.drop_index(
        "ix_customer_duplicate_suggestion_other", table_name="customer_duplicate_suggestion"
    )
    op.drop_index(
        "ix_customer_duplicate_suggestion_status", table_name="customer_duplicate_suggestion"
    )
    op.drop_table("customer_duplicate_suggestion")
