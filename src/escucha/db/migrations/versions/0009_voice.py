"""voice: web callers, call legs, signalling and agents' desks (ADR 16)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 15:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import escucha.db.base

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = escucha.db.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "voice_callers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("typed_number", sa.String(length=20), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("last_seen_at", UTC, nullable=False),
        sa.Column("leaving_at", UTC, nullable=True),
        sa.Column("gone_at", UTC, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voice_callers")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_voice_callers_token_hash")),
    )
    op.create_table(
        "voice_desks",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("last_seen_at", UTC, nullable=False),
        sa.Column("mic_ok", sa.Boolean(), nullable=False),
        sa.Column("gone_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_voice_desks_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_voice_desks")),
    )
    op.create_table(
        "voice_legs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("side", sa.String(length=10), nullable=False),
        sa.Column("caller_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("media", sa.String(length=20), nullable=False),
        sa.Column("ended_at", UTC, nullable=True),
        sa.Column("end_reason", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["caller_id"], ["voice_callers.id"], name=op.f("fk_voice_legs_caller_id_voice_callers")
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_voice_legs_contact_id_contacts")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_voice_legs_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voice_legs")),
    )
    with op.batch_alter_table("voice_legs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_voice_legs_caller_id"), ["caller_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_voice_legs_user_id"), ["user_id"], unique=False)
        batch_op.create_index("ix_voice_legs_contact_id_side", ["contact_id", "side"], unique=False)
    op.create_table(
        "voice_signals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("sender", sa.String(length=10), nullable=False),
        sa.Column("recipient", sa.String(length=10), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_voice_signals_contact_id_contacts")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_voice_signals_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voice_signals")),
    )
    with op.batch_alter_table("voice_signals", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_voice_signals_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_voice_signals_user_id"), ["user_id"], unique=False)
        batch_op.create_index("ix_voice_signals_contact_id_id", ["contact_id", "id"], unique=False)

    op.create_table(
        "voice_recordings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.String(length=60), nullable=False),
        sa.Column("chunks", sa.Integer(), nullable=False),
        sa.Column("bytes", sa.Integer(), nullable=False),
        sa.Column("started_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.Column("deleted_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_voice_recordings_contact_id_contacts")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_voice_recordings_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voice_recordings")),
        sa.UniqueConstraint("contact_id", name=op.f("uq_voice_recordings_contact_id")),
    )
    with op.batch_alter_table("voice_recordings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_voice_recordings_started_at"), ["started_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("voice_recordings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_voice_recordings_started_at"))
    op.drop_table("voice_recordings")
    with op.batch_alter_table("voice_signals", schema=None) as batch_op:
        batch_op.drop_index("ix_voice_signals_contact_id_id")
        batch_op.drop_index(batch_op.f("ix_voice_signals_user_id"))
        batch_op.drop_index(batch_op.f("ix_voice_signals_created_at"))
    op.drop_table("voice_signals")
    with op.batch_alter_table("voice_legs", schema=None) as batch_op:
        batch_op.drop_index("ix_voice_legs_contact_id_side")
        batch_op.drop_index(batch_op.f("ix_voice_legs_user_id"))
        batch_op.drop_index(batch_op.f("ix_voice_legs_caller_id"))
    op.drop_table("voice_legs")
    op.drop_table("voice_desks")
    op.drop_table("voice_callers")
