"""speech: transcripts of recorded calls (C5)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 16:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import escucha.db.base

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "speech_transcripts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("recording_uri", sa.String(length=500), nullable=False),
        sa.Column("recording_sha256", sa.String(length=64), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("language", sa.String(length=5), nullable=False),
        sa.Column("agent_channel", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("engine", sa.String(length=20), nullable=True),
        sa.Column("channels", sa.Integer(), nullable=True),
        sa.Column("duration_s", sa.Double(), nullable=True),
        sa.Column("turns", sa.JSON(), nullable=False),
        sa.Column("audio", sa.JSON(), nullable=False),
        sa.Column("masked", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", escucha.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("transcribed_at", escucha.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_speech_transcripts_contact_id_contacts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_speech_transcripts")),
        sa.UniqueConstraint(
            "contact_id",
            "recording_uri",
            name=op.f("uq_speech_transcripts_contact_id_recording_uri"),
        ),
    )
    with op.batch_alter_table("speech_transcripts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_speech_transcripts_contact_id"), ["contact_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_speech_transcripts_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_speech_transcripts_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("speech_transcripts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_speech_transcripts_status"))
        batch_op.drop_index(batch_op.f("ix_speech_transcripts_created_at"))
        batch_op.drop_index(batch_op.f("ix_speech_transcripts_contact_id"))
    op.drop_table("speech_transcripts")
