"""voice: a recording per agent's leg of a call (a transferred call has several)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 21:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Each recording so far was the whole of what was recorded of its contact: its first leg.
    with op.batch_alter_table("voice_recordings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("leg", sa.Integer(), nullable=False, server_default=sa.text("1"))
        )
        batch_op.drop_constraint(batch_op.f("uq_voice_recordings_contact_id"), type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_voice_recordings_contact_id_leg"), ["contact_id", "leg"]
        )


def downgrade() -> None:
    # One recording per contact again: the first leg stays, the rows of later legs go (their
    # files stay on disk beside the first leg's).
    op.execute(sa.text("DELETE FROM voice_recordings WHERE leg <> 1"))
    with op.batch_alter_table("voice_recordings", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_voice_recordings_contact_id_leg"), type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_voice_recordings_contact_id"), ["contact_id"]
        )
        batch_op.drop_column("leg")
