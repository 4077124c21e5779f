"""Who is on each end of a web call, and the signalling messages between them (ADR 16).

A :class:`WebCaller` is one browser that called from ``/phone``: the session cookie holds a
random token and the table only its hash. Each contact that browser takes part in (its call, a
callback to it) has a caller :class:`VoiceLeg`; the agent's leg names the user. A caller may
signal only a contact it has a leg on; an agent only a contact offered or assigned to them.

:class:`VoiceSignal` rows carry the session descriptions (and a hang-up) from one side to the
other; :class:`AgentDesk` is the heartbeat of an agent's open desk.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from escucha.db.base import Base

SIDES = ("caller", "agent")


class WebCaller(Base):
    __tablename__ = "voice_callers"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: The number typed on the page: never verified, never used to join a customer's history.
    typed_number: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    #: The page said it was being closed (a reload beats again within seconds).
    leaving_at: Mapped[datetime | None]
    #: The page was closed (or went silent): when it was last seen alive.
    gone_at: Mapped[datetime | None]


class VoiceLeg(Base):
    __tablename__ = "voice_legs"
    __table_args__ = (Index("ix_voice_legs_contact_id_side", "contact_id", "side"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    side: Mapped[str] = mapped_column(String(10))
    caller_id: Mapped[int | None] = mapped_column(ForeignKey("voice_callers.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime]
    #: What the browser's RTCPeerConnection last reported (new, connecting, connected, failed...).
    media: Mapped[str] = mapped_column(String(20), default="new")
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str] = mapped_column(String(40), default="")


class VoiceSignal(Base):
    __tablename__ = "voice_signals"
    __table_args__ = (Index("ix_voice_signals_contact_id_id", "contact_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    sender: Mapped[str] = mapped_column(String(10))
    recipient: Mapped[str] = mapped_column(String(10))
    #: The agent it goes to (recipient ``agent``) or comes from (sender ``agent``).
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    body: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(index=True)


class AgentDesk(Base):
    """An agent's open desk: it beats every few seconds while the page is open."""

    __tablename__ = "voice_desks"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    last_seen_at: Mapped[datetime]
    mic_ok: Mapped[bool] = mapped_column(default=False)
    gone_at: Mapped[datetime | None]


class VoiceRecording(Base):
    """One agent's leg of a web call, recorded in that agent's desk (ADR 15): chunks of
    WebM/Opus, in order. A call handed from one agent to another has a leg per agent, numbered
    from 1 in the order they began; an agent who takes the customer back begins a new leg."""

    __tablename__ = "voice_recordings"
    __table_args__ = (UniqueConstraint("contact_id", "leg"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    leg: Mapped[int] = mapped_column(default=1)
    #: The agent whose desk recorded this leg (the customer and that agent are heard).
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    content_type: Mapped[str] = mapped_column(String(60))
    chunks: Mapped[int] = mapped_column(default=0)
    bytes: Mapped[int] = mapped_column(default=0)
    started_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]
    #: Deleted by the retention job (the row stays as the trace that it existed).
    deleted_at: Mapped[datetime | None]


class SipAccount(Base):
    """An agent's account on the organisation's PBX (ADR 23).

    escucha generates the password and keeps it: the desk gives it to the agent's own browser
    (JsSIP registers with it) and the administrator copies it once into the PBX's
    ``pjsip.conf``. ``phone`` says where the agent's calls ring: ``browser`` (the desk) or
    ``desk`` (a SIP desk phone registered to the PBX on its own). What the browser last
    reported of its registration is kept with when it changed: presence follows it.
    """

    __tablename__ = "voice_sip_accounts"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    username: Mapped[str] = mapped_column(String(40), unique=True)
    password: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(10), default="browser")
    created_at: Mapped[datetime]
    rotated_at: Mapped[datetime]
    registration: Mapped[str] = mapped_column(String(20), default="unregistered")
    registration_changed_at: Mapped[datetime | None]
    registration_seen_at: Mapped[datetime | None]


class VoiceConsult(Base):
    """A warm transfer: the agent on a call talks to another agent first (ADR 24).

    The customer waits on hold; ``answered_at`` is when the second agent took the consult;
    it ends handed over (the customer now talks with the second agent), cancelled by the first
    agent, or declined by the second.
    """

    __tablename__ = "voice_consults"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    from_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    to_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    note: Mapped[str] = mapped_column(String(1000), default="")
    started_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    #: handed_over, cancelled, declined, lost (a desk went silent), unanswered (the colleague's
    #: phone on the PBX did not answer), customer_left (hung up meanwhile), or "" while open.
    outcome: Mapped[str] = mapped_column(String(20), default="")
