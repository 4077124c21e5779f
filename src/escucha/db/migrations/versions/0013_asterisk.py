"""asterisk: the lease on a PBX's events, its channels, agents' endpoints and the trunk

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 18:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "asterisk_leases",
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_asterisk_leases")),
    )
    op.create_table(
        "asterisk_channels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.String(length=150), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("bridge_id", sa.String(length=150), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_cause", sa.String(length=60), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_asterisk_channels_contact_id_contacts")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_asterisk_channels_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_asterisk_channels")),
        sa.UniqueConstraint("channel_id", name=op.f("uq_asterisk_channels_channel_id")),
    )
    op.create_index(
        op.f("ix_asterisk_channels_contact_id"), "asterisk_channels", ["contact_id"], unique=False
    )
    op.create_index(
        op.f("ix_asterisk_channels_ended_at"), "asterisk_channels", ["ended_at"], unique=False
    )
    with op.batch_alter_table("agent_profiles", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("pbx_endpoint", sa.String(length=200), nullable=False, server_default="")
        )
    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("pbx_trunk", sa.String(length=200), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.drop_column("pbx_trunk")
    with op.batch_alter_table("agent_profiles", schema=None) as batch_op:
        batch_op.drop_column("pbx_endpoint")
    op.drop_index(op.f("ix_asterisk_channels_ended_at"), table_name="asterisk_channels")
    op.drop_index(op.f("ix_asterisk_channels_contact_id"), table_name="asterisk_channels")
    op.drop_table("asterisk_channels")
    op.drop_table("asterisk_leases")
