"""auth: server-side sessions, login events, API token scopes and expiry

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 15:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import escucha.db.base

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "user_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sid_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", escucha.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", escucha.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("user_agent", sa.String(length=200), nullable=False),
        sa.Column("ended_at", escucha.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_reason", sa.String(length=20), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_sessions")),
        sa.UniqueConstraint("sid_hash", name=op.f("uq_user_sessions_sid_hash")),
    )
    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_sessions_user_id"), ["user_id"], unique=False)

    op.create_table(
        "login_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", escucha.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("username", sa.String(length=80), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_events")),
    )
    with op.batch_alter_table("login_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_login_events_at"), ["at"], unique=False)
        batch_op.create_index("ix_login_events_address_at", ["address", "at"], unique=False)
        batch_op.create_index(
            "ix_login_events_username_address_at", ["username", "address", "at"], unique=False
        )

    # Tokens made before scopes did whatever their user's role allowed: "admin" (capped by
    # the role on every request) keeps them working as they did.
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("scope", sa.String(length=10), nullable=False, server_default="admin")
        )
        batch_op.add_column(
            sa.Column("expires_at", escucha.db.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("revoked_reason", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_column("revoked_reason")
        batch_op.drop_column("expires_at")
        batch_op.drop_column("scope")

    with op.batch_alter_table("login_events", schema=None) as batch_op:
        batch_op.drop_index("ix_login_events_username_address_at")
        batch_op.drop_index("ix_login_events_address_at")
        batch_op.drop_index(batch_op.f("ix_login_events_at"))
    op.drop_table("login_events")

    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_sessions_user_id"))
    op.drop_table("user_sessions")
