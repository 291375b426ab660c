"""retention: where each domain's oldest rows are found

Revision ID: c0a1e55a0006
Revises: c0a1e55a0001
Create Date: 2026-11-30 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import omnikanal.db

revision: str = "c0a1e55a0006"
down_revision: str | None = "c0a1e55a0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, marker column, the time retention counts from)
MARKERS = (
    ("conversation", "messages_removed_at", "last_activity_at", "ix_conversation_retention"),
    ("marketing_message", "bodies_removed_at", "created_at", "ix_marketing_message_retention"),
    (
        "notifications_notification",
        "body_removed_at",
        "created_at",
        "ix_notifications_notification_retention",
    ),
)


def upgrade() -> None:
    op.create_index("ix_events_event_timestamp", "events_event", ["timestamp"])
    for table, marker, since, index in MARKERS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column(marker, omnikanal.db.UTCDateTime(timezone=True), nullable=True)
            )
        op.create_index(index, table, [marker, since])


def downgrade() -> None:
    for table, marker, _, index in MARKERS:
        op.drop_index(index, table_name=table)
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column(marker)
    op.drop_index("ix_events_event_timestamp", table_name="events_event")
