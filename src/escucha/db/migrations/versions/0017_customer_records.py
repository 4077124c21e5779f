"""customers: contact points, consent, notes, merges and erasure

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 18:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("consent_sms", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("consent_email", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("notes", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("merged_into_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_customers_merged_into_id_customers"),
            "customers",
            ["merged_into_id"],
            ["id"],
        )
    op.create_table(
        "customer_points",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("value", sa.String(length=320), nullable=False),
        sa.Column("label", sa.String(length=40), nullable=False),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_points_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_points")),
        sa.UniqueConstraint("kind", "value", name=op.f("uq_customer_points_kind_value")),
    )
    with op.batch_alter_table("customer_points", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_customer_points_customer_id"), ["customer_id"], unique=False
        )
    # Every phone and email already known becomes a verified contact point.
    op.execute(
        "INSERT INTO customer_points (customer_id, kind, value, label, verified, created_at) "
        "SELECT id, 'phone', phone, '', true, created_at FROM customers WHERE phone IS NOT NULL"
    )
    op.execute(
        "INSERT INTO customer_points (customer_id, kind, value, label, verified, created_at) "
        "SELECT min(id), 'email', email, '', true, min(created_at) FROM customers "
        "WHERE email IS NOT NULL GROUP BY email"
    )


def downgrade() -> None:
    with op.batch_alter_table("customer_points", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_points_customer_id"))
    op.drop_table("customer_points")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_customers_merged_into_id_customers"), type_="foreignkey"
        )
        for column in (
            "erased_at",
            "merged_into_id",
            "updated_at",
            "notes",
            "consent_email",
            "consent_sms",
        ):
            batch_op.drop_column(column)
