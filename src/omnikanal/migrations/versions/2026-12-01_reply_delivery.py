"""reply delivery: each agent's reply says what became of it on its channel

Revision ID: c0a1e55a0017
Revises: c0a1e55a000a
Create Date: 2026-12-01 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import omnikanal.db

revision: str = "c0a1e55a0017"
down_revision: str | None = "c0a1e55a000a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("conversation_message") as batch_op:
        batch_op.add_column(sa.Column("delivery_status", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("delivery_error", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("delivered_at", omnikanal.db.UTCDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("conversation") as batch_op:
        batch_op.add_column(
            sa.Column(
                "undelivered_replies", sa.Integer(), nullable=False, server_default=sa.text("0")
            )
        )
        batch_op.create_index(
            "ix_conversation_undelivered", ["undelivered_replies", "last_activity_at"]
        )


def downgrade() -> None:
    with op.batch_alter_table("conversation") as batch_op:
        batch_op.drop_index("ix_conversation_undelivered")
        batch_op.drop_column("undelivered_replies")
    with op.batch_alter_table("conversation_message") as batch_op:
        batch_op.drop_column("delivered_at")
        batch_op.drop_column("delivery_error")
        batch_op.drop_column("delivery_status")
