"""experiments: experiments and exposures; promotions limited to a variant

Revision ID: c0a1e55a001d
Revises: c0a1e55a0018
Create Date: 2026-12-02 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import omnikanal.db

revision: str = "c0a1e55a001d"
down_revision: str | None = "c0a1e55a0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "experiment",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("unit", sa.String(length=10), nullable=False),
        sa.Column(
            "variants",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("audience_id", sa.Uuid(), nullable=True),
        sa.Column("metric", sa.String(length=30), nullable=False),
        sa.Column(
            "guardrails",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("window_days", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", omnikanal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", omnikanal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("stopped_at", omnikanal.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_experiment")),
        sa.UniqueConstraint("key", name=op.f("uq_experiment_key")),
        sa.UniqueConstraint("target", name=op.f("uq_experiment_target")),
    )
    op.create_table(
        "experiment_exposure",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("experiment_id", sa.Uuid(), nullable=False),
        sa.Column("variant", sa.String(length=100), nullable=False),
        sa.Column("profile_id", sa.Uuid(), nullable=True),
        sa.Column("anonymous_id", sa.String(length=320), nullable=True),
        sa.Column("location", sa.String(length=100), nullable=True),
        sa.Column("channel", sa.String(length=20), nullable=True),
        sa.Column("exposed_at", omnikanal.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_experiment_exposure")),
    )
    op.create_index(
        "ix_experiment_exposure_profile",
        "experiment_exposure",
        ["experiment_id", "profile_id"],
        unique=False,
    )
    op.create_index(
        "ix_experiment_exposure_anonymous",
        "experiment_exposure",
        ["experiment_id", "anonymous_id"],
        unique=False,
    )
    op.create_index(
        "ix_experiment_exposure_location",
        "experiment_exposure",
        ["experiment_id", "location"],
        unique=False,
    )
    op.create_index(
        "ix_experiment_exposure_person", "experiment_exposure", ["profile_id"], unique=False
    )
    with op.batch_alter_table("catalog_promotion", schema=None) as batch_op:
        batch_op.add_column(sa.Column("experiment", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("variant", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("catalog_promotion", schema=None) as batch_op:
        batch_op.drop_column("variant")
        batch_op.drop_column("experiment")
    op.drop_index("ix_experiment_exposure_person", table_name="experiment_exposure")
    op.drop_index("ix_experiment_exposure_location", table_name="experiment_exposure")
    op.drop_index("ix_experiment_exposure_anonymous", table_name="experiment_exposure")
    op.drop_index("ix_experiment_exposure_profile", table_name="experiment_exposure")
    op.drop_table("experiment_exposure")
    op.drop_table("experiment")
