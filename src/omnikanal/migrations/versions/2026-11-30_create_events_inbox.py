"""create events inbox

Revision ID: 4e1c0d7a9b21
Revises: 757ae7a90450
Create Date: 2026-11-30 07:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import omnikanal.db

revision: str = "4e1c0d7a9b21"
down_revision: str | None = "757ae7a90450"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "events_inbox",
        sa.Column(
            "position",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("source_id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("location", sa.String(length=100), nullable=True),
        sa.Column("message_id", sa.String(length=200), nullable=False),
        sa.Column("seen_at", omnikanal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", omnikanal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("received_at", omnikanal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "message",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("position", name=op.f("pk_events_inbox")),
        sa.UniqueConstraint(
            "source_id", "message_id", name=op.f("uq_events_inbox_source_id_message_id")
        ),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("events_inbox")
