"""What escucha keeps of an Asterisk PBX: who consumes its events, and its channels (ADR 22).

:class:`AriLease` makes exactly one escucha node consume one Asterisk's events at a time: the
holder renews it every few seconds; when it stops, another node takes it once it has lapsed.
:class:`AriChannel` ties each ARI channel escucha drives to its contact, so a node that starts
(or takes over) finds the calls in progress and one whose channel vanished closes at the time it
was last seen alive.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from escucha.db.base import Base

#: What a channel is to its contact (``consult``: a colleague's leg in a warm transfer; it
#: becomes ``agent`` when the customer is handed over).
ROLES = ("caller", "agent", "customer", "consult")


class AriLease(Base):
    __tablename__ = "asterisk_leases"

    #: The Asterisk (its ARI address and application name).
    name: Mapped[str] = mapped_column(String(300), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    acquired_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    #: Grows by one each time another node takes the lease.
    generation: Mapped[int] = mapped_column(default=1)


class AriChannel(Base):
    __tablename__ = "asterisk_channels"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(150), unique=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    role: Mapped[str] = mapped_column(String(10))
    #: The agent a leg rings (role ``agent``).
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    bridge_id: Mapped[str | None] = mapped_column(String(150))
    created_at: Mapped[datetime]
    #: Last time escucha saw the channel alive (an event, or the periodic check).
    seen_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None] = mapped_column(index=True)
    end_cause: Mapped[str] = mapped_column(String(60), default="")
