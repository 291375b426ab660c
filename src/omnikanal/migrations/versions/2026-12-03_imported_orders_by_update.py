"""imported orders found by when an import last wrote them, not by a scan of all orders

Revision ID: c0a1e55a001e
Revises: c0a1e55a001c
Create Date: 2026-12-03 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c0a1e55a001e"
down_revision: str | None = "c0a1e55a001c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_commerce_order_imported_updated",
        "commerce_order",
        ["updated_at"],
        sqlite_where=sa.text("imported_at IS NOT NULL"),
        postgresql_where=sa.text("imported_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_commerce_order_imported_updated", table_name="commerce_order")
