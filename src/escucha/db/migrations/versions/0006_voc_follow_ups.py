"""surveys: follow-ups of customers at risk (M4)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import escucha.db.base

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "voc_follow_ups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("note", sa.String(length=1000), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=False),
        sa.Column("recorded_at", escucha.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "outcome IN ('reached', 'message_left', 'not_reached')",
            name=op.f("ck_voc_follow_ups_outcome"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_voc_follow_ups_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"], ["users.id"], name=op.f("fk_voc_follow_ups_recorded_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voc_follow_ups")),
    )
    with op.batch_alter_table("voc_follow_ups", schema=None) as batch_op:
        batch_op.create_index(
            "ix_voc_follow_ups_customer_id_recorded_at",
            ["customer_id", "recorded_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_voc_follow_ups_recorded_at"), ["recorded_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("voc_follow_ups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_voc_follow_ups_recorded_at"))
        batch_op.drop_index("ix_voc_follow_ups_customer_id_recorded_at")

    op.drop_table("voc_follow_ups")
