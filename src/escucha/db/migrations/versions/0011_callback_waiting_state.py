"""contacts: callbacks waiting out of line are in state callback_waiting, not ivr (ADR 13)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 16:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

contacts = sa.table(
    "contacts", sa.column("state", sa.String(20)), sa.column("channel", sa.String(20))
)


def upgrade() -> None:
    op.execute(
        contacts.update()
        .where(contacts.c.channel == "callback", contacts.c.state == "ivr")
        .values(state="callback_waiting")
    )


def downgrade() -> None:
    op.execute(contacts.update().where(contacts.c.state == "callback_waiting").values(state="ivr"))
