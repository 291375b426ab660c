"""catalog version: the token each process's catalog cache is checked against

Revision ID: c0a1e55a0016
Revises: c0a1e55a0017
Create Date: 2026-12-01 12:00:00.000000
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import omnikanal.db

revision: str = "c0a1e55a0016"
down_revision: str | None = "c0a1e55a0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    table = op.create_table(
        "catalog_version",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.Uuid(), nullable=False),
        sa.Column("changed_at", omnikanal.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_version")),
    )
    op.bulk_insert(table, [{"id": 1, "version": uuid.uuid4(), "changed_at": datetime.now(UTC)}])


def downgrade() -> None:
    op.drop_table("catalog_version")
