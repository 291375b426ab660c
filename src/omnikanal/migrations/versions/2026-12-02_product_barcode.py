"""product barcode: the code printed on the item, found exactly by product search

Revision ID: c0a1e55a001b
Revises: c0a1e55a0016
Create Date: 2026-12-02 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c0a1e55a001b"
down_revision: str | None = "c0a1e55a0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("catalog_product") as batch_op:
        batch_op.add_column(sa.Column("barcode", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_catalog_product_barcode", ["barcode"])


def downgrade() -> None:
    with op.batch_alter_table("catalog_product") as batch_op:
        batch_op.drop_index("ix_catalog_product_barcode")
        batch_op.drop_column("barcode")
