"""orders imported as history: when, and their natural key (channel and own number)

Revision ID: c0a1e55a0008
Revises: c0a1e55a0009
Create Date: 2026-11-30 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import omnikanal.db

revision: str = "c0a1e55a0008"
down_revision: str | None = "c0a1e55a0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("commerce_order") as batch:
        batch.add_column(
            sa.Column("imported_at", omnikanal.db.UTCDateTime(timezone=True), nullable=True)
        )
    op.create_index(
        "uq_commerce_order_imported_reference",
        "commerce_order",
        ["channel", "external_reference"],
        unique=True,
        sqlite_where=sa.text("imported_at IS NOT NULL"),
        postgresql_where=sa.text("imported_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_commerce_order_imported_reference", table_name="commerce_order")
    with op.batch_alter_table("commerce_order") as batch:
        batch.drop_column("imported_at")
