"""voice: agents' SIP accounts on the organisation's PBX (ADR 23)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 18:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import escucha.db.base

UTC = escucha.db.base.UTCDateTime(timezone=True)

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "voice_sip_accounts",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=40), nullable=False),
        sa.Column("password", sa.String(length=64), nullable=False),
        sa.Column("phone", sa.String(length=10), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("rotated_at", UTC, nullable=False),
        sa.Column("registration", sa.String(length=20), nullable=False),
        sa.Column("registration_changed_at", UTC, nullable=True),
        sa.Column("registration_seen_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_voice_sip_accounts_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_voice_sip_accounts")),
        sa.UniqueConstraint("username", name=op.f("uq_voice_sip_accounts_username")),
    )


def downgrade() -> None:
    op.drop_table("voice_sip_accounts")
