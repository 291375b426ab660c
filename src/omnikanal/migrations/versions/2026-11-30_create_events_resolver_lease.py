"""create events resolver lease

Revision ID: 9b3f2e6c1d40
Revises: 4e1c0d7a9b21
Create Date: 2026-11-30 07:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import omnikanal.db

revision: str = "9b3f2e6c1d40"
down_revision: str | None = "4e1c0d7a9b21"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "events_resolver_lease",
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("locked_until", omnikanal.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_events_resolver_lease")),
    )


def downgrade() -> None:
    op.drop_table("events_resolver_lease")
