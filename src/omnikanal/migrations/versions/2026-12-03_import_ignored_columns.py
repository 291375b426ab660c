"""imports: the columns of a file its kind does not read, said on the job

Revision ID: c0a1e55a001f
Revises: c0a1e55a001e
Create Date: 2026-12-03 13:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "c0a1e55a001f"
down_revision: str | None = "c0a1e55a001e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("imports_job") as batch_op:
        batch_op.add_column(
            sa.Column(
                "ignored_columns", JSON_DOCUMENT, nullable=False, server_default=sa.text("'[]'")
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("imports_job") as batch_op:
        batch_op.drop_column("ignored_columns")
