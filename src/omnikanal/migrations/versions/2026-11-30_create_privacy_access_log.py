"""create privacy access log

Revision ID: c0a1e55a0001
Revises: 9b3f2e6c1d40
Create Date: 2026-11-30 09:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import omnikanal.db

revision: str = "c0a1e55a0001"
down_revision: str | None = "9b3f2e6c1d40"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "privacy_access_log",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("at", omnikanal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_kind", sa.String(length=20), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=False),
        sa.Column("actor_name", sa.String(length=200), nullable=False),
        sa.Column("actor_role", sa.String(length=20), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("profile_id", sa.Uuid(), nullable=True),
        sa.Column("conversation_id", sa.Uuid(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_access_log")),
    )
    op.create_index("ix_privacy_access_log_at", "privacy_access_log", ["at"])
    op.create_index("ix_privacy_access_log_profile_at", "privacy_access_log", ["profile_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_privacy_access_log_profile_at", table_name="privacy_access_log")
    op.drop_index("ix_privacy_access_log_at", table_name="privacy_access_log")
    op.drop_table("privacy_access_log")
