"""tickets: case work (tags, priority, merges, saved views, canned replies, full-text search)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 18:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from escucha.db import fulltext

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("priority", sa.String(length=10), server_default="normal", nullable=False)
        )
    op.create_table(
        "ticket_tags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(length=40), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("added_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["added_by_id"], ["users.id"], name=op.f("fk_ticket_tags_added_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_ticket_tags_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_tags")),
        sa.UniqueConstraint("ticket_id", "tag", name=op.f("uq_ticket_tags_ticket_id_tag")),
    )
    with op.batch_alter_table("ticket_tags", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ticket_tags_tag"), ["tag"], unique=False)
        batch_op.create_index(batch_op.f("ix_ticket_tags_ticket_id"), ["ticket_id"], unique=False)
    op.create_table(
        "ticket_merges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("absorbed_id", sa.Integer(), nullable=False),
        sa.Column("survivor_id", sa.Integer(), nullable=False),
        sa.Column("merged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("merged_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["absorbed_id"], ["tickets.id"], name=op.f("fk_ticket_merges_absorbed_id_tickets")
        ),
        sa.ForeignKeyConstraint(
            ["merged_by_id"], ["users.id"], name=op.f("fk_ticket_merges_merged_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["survivor_id"], ["tickets.id"], name=op.f("fk_ticket_merges_survivor_id_tickets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_merges")),
        sa.UniqueConstraint("absorbed_id", name=op.f("uq_ticket_merges_absorbed_id")),
    )
    with op.batch_alter_table("ticket_merges", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ticket_merges_survivor_id"), ["survivor_id"], unique=False
        )
    op.create_table(
        "saved_views",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_saved_views_owner_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_views")),
    )
    with op.batch_alter_table("saved_views", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_saved_views_owner_id"), ["owner_id"], unique=False)
    op.create_table(
        "canned_replies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("language", sa.String(length=5), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_canned_replies_created_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_canned_replies")),
        sa.UniqueConstraint("title", "language", name=op.f("uq_canned_replies_title_language")),
    )
    conn = op.get_bind()
    fulltext.create(conn)
    fulltext.backfill(conn)


def downgrade() -> None:
    fulltext.remove(op.get_bind())
    op.drop_table("canned_replies")
    with op.batch_alter_table("saved_views", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_saved_views_owner_id"))
    op.drop_table("saved_views")
    with op.batch_alter_table("ticket_merges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ticket_merges_survivor_id"))
    op.drop_table("ticket_merges")
    with op.batch_alter_table("ticket_tags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ticket_tags_ticket_id"))
        batch_op.drop_index(batch_op.f("ix_ticket_tags_tag"))
    op.drop_table("ticket_tags")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_column("priority")
