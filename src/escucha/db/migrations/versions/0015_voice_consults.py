"""voice: consults between agents before a warm transfer (ADR 24)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 18:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import escucha.db.base

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = escucha.db.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "voice_consults",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("from_user_id", sa.Integer(), nullable=False),
        sa.Column("to_user_id", sa.Integer(), nullable=False),
        sa.Column("note", sa.String(length=1000), nullable=False),
        sa.Column("started_at", UTC, nullable=False),
        sa.Column("answered_at", UTC, nullable=True),
        sa.Column("ended_at", UTC, nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_voice_consults_contact_id_contacts")
        ),
        sa.ForeignKeyConstraint(
            ["from_user_id"], ["users.id"], name=op.f("fk_voice_consults_from_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["to_user_id"], ["users.id"], name=op.f("fk_voice_consults_to_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voice_consults")),
    )
    with op.batch_alter_table("voice_consults", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_voice_consults_contact_id"), ["contact_id"])
        batch_op.create_index(batch_op.f("ix_voice_consults_from_user_id"), ["from_user_id"])
        batch_op.create_index(batch_op.f("ix_voice_consults_to_user_id"), ["to_user_id"])


def downgrade() -> None:
    with op.batch_alter_table("voice_consults", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_voice_consults_to_user_id"))
        batch_op.drop_index(batch_op.f("ix_voice_consults_from_user_id"))
        batch_op.drop_index(batch_op.f("ix_voice_consults_contact_id"))
    op.drop_table("voice_consults")
