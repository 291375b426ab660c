"""marketing: fixed-list audiences, survey campaigns and their answers

Revision ID: c0a1e55a0019
Revises: c0a1e55a001b
Create Date: 2026-11-30 13:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import omnikanal.db

revision: str = "c0a1e55a0019"
down_revision: str | None = "c0a1e55a001b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "marketing_audience_member",
        sa.Column("audience_id", sa.Uuid(), nullable=False),
        sa.Column("profile_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint(
            "audience_id", "profile_id", name=op.f("pk_marketing_audience_member")
        ),
    )
    op.create_index(
        op.f("ix_marketing_audience_member_profile_id"),
        "marketing_audience_member",
        ["profile_id"],
        unique=False,
    )
    op.create_table(
        "marketing_survey_answer",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("profile_id", sa.Uuid(), nullable=False),
        sa.Column("survey", sa.String(length=20), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("location", sa.String(length=100), nullable=True),
        sa.Column("answered_at", omnikanal.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_marketing_survey_answer")),
        sa.UniqueConstraint(
            "campaign_id",
            "profile_id",
            name=op.f("uq_marketing_survey_answer_campaign_id_profile_id"),
        ),
    )
    op.create_index(
        op.f("ix_marketing_survey_answer_profile_id"),
        "marketing_survey_answer",
        ["profile_id"],
        unique=False,
    )
    with op.batch_alter_table("marketing_campaign", schema=None) as batch_op:
        batch_op.add_column(sa.Column("survey", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("marketing_campaign", schema=None) as batch_op:
        batch_op.drop_column("survey")
    op.drop_index(
        op.f("ix_marketing_survey_answer_profile_id"), table_name="marketing_survey_answer"
    )
    op.drop_table("marketing_survey_answer")
    op.drop_index(
        op.f("ix_marketing_audience_member_profile_id"), table_name="marketing_audience_member"
    )
    op.drop_table("marketing_audience_member")
