"""campaign links (clicks are counted); the worker's heartbeat for the console's health page

Revision ID: c0a1e55a0018
Revises: c0a1e55a0019
Create Date: 2026-12-01 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import omnikanal.db

revision: str = "c0a1e55a0018"
down_revision: str | None = "c0a1e55a0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("marketing_campaign", sa.Column("link_url", sa.String(length=2000)))
    op.create_table(
        "console_worker_beat",
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("beat_at", omnikanal.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("holder", name=op.f("pk_console_worker_beat")),
    )


def downgrade() -> None:
    op.drop_table("console_worker_beat")
    with op.batch_alter_table("marketing_campaign") as batch:
        batch.drop_column("link_url")
