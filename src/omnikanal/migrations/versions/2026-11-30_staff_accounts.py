"""staff accounts; console sessions belong to a person, not a secret key

Revision ID: c0a1e55a0002
Revises: c0a1e55a0006
Create Date: 2026-11-30 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import omnikanal.db

revision: str = "c0a1e55a0002"
down_revision: str | None = "c0a1e55a0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "auth_staff_account",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("location", sa.String(length=100), nullable=True),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("totp_secret", sa.String(length=64), nullable=True),
        sa.Column("failed_sign_ins", sa.Integer(), nullable=False),
        sa.Column("locked_until", omnikanal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("disabled_at", omnikanal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", omnikanal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_sign_in_at", omnikanal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("invite_token_hash", sa.String(length=64), nullable=True),
        sa.Column("invite_expires_at", omnikanal.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_staff_account")),
        sa.UniqueConstraint("email", name=op.f("uq_auth_staff_account_email")),
        sa.UniqueConstraint(
            "invite_token_hash", name=op.f("uq_auth_staff_account_invite_token_hash")
        ),
    )
    # Sessions opened with a secret key are simply dropped: their people sign in again.
    op.drop_table("console_session")
    _create_console_session(
        sa.Column("staff_account_id", sa.Uuid(), nullable=False),
        sa.Column("last_seen_at", omnikanal.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_account_id"],
            ["auth_staff_account.id"],
            name=op.f("fk_console_session_staff_account_id_auth_staff_account"),
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        op.f("ix_console_session_staff_account_id"), "console_session", ["staff_account_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_console_session_staff_account_id"), table_name="console_session")
    op.drop_table("console_session")
    _create_console_session(
        sa.Column("key_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["key_id"],
            ["auth_secret_key.id"],
            name=op.f("fk_console_session_key_id_auth_secret_key"),
            ondelete="CASCADE",
        ),
    )
    op.drop_table("auth_staff_account")


def _create_console_session(*owner: sa.Column[object] | sa.ForeignKeyConstraint) -> None:
    op.create_table(
        "console_session",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", omnikanal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", omnikanal.db.UTCDateTime(timezone=True), nullable=False),
        *owner,
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_session")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_console_session_token_hash")),
    )
