"""Tickets: cases that outlive a contact, with their thread, contacts, attachments and numbers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from escucha.db.base import Base


class Ticket(Base):
    """A query, fault, request or complaint, with its number and verification code (P3, P5, P6).

    ``number`` is ``YYYY-SSSSSSS-C`` (see :mod:`escucha.tickets.rules`); ``year`` and ``sequence``
    come from :class:`TicketCounter` and are unique together, like the number itself.
    """

    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(24), unique=True)
    year: Mapped[int]
    sequence: Mapped[int]
    kind: Mapped[str] = mapped_column(String(20))
    topic: Mapped[str | None] = mapped_column(String(40))
    area: Mapped[str | None] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(String(300), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    description_missing: Mapped[bool] = mapped_column(default=False)
    language: Mapped[str] = mapped_column(String(5), default="es")
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    origin_contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    verification_code: Mapped[str] = mapped_column(String(16))
    kind_hint: Mapped[str | None] = mapped_column(String(20))
    hint_score: Mapped[float] = mapped_column(default=0.0)
    hint_phrases: Mapped[list[Any]] = mapped_column(default=list)
    regulatory_profile: Mapped[str] = mapped_column(String(40))
    request_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    request_hash: Mapped[str | None] = mapped_column(String(64))  # of the fields sent with the key
    contact_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]
    first_response_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    notified_at: Mapped[datetime | None]
    appealed_at: Mapped[datetime | None]
    resolution: Mapped[str | None] = mapped_column(Text)
    deemed_accepted: Mapped[bool] = mapped_column(default=False)
    follow_up_reason: Mapped[str | None] = mapped_column(String(200))
    follow_up_at: Mapped[datetime | None]
    priority: Mapped[str] = mapped_column(String(10), default="normal", server_default="normal")

    __table_args__ = (
        UniqueConstraint("year", "sequence"),
        Index("ix_tickets_team_id_status", "team_id", "status"),
    )


class TicketMessage(Base):
    """One entry of a ticket's thread: from the customer, to the customer, or internal."""

    __tablename__ = "ticket_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    created_at: Mapped[datetime]
    direction: Mapped[str] = mapped_column(String(10))  # in, out, note
    visibility: Mapped[str] = mapped_column(String(10))  # customer, internal
    author_kind: Mapped[str] = mapped_column(String(10))  # customer, agent, system
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    channel: Mapped[str] = mapped_column(String(20))  # web, email, sms, voice, note, system
    from_address: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    message_id: Mapped[str | None] = mapped_column(String(300), index=True)
    notification_id: Mapped[int | None] = mapped_column(ForeignKey("notifications.id"))
    work_s: Mapped[float | None]  # handling time an agent spent on this reply


class TicketContact(Base):
    """A contact (call, email, web visit) linked to a ticket."""

    __tablename__ = "ticket_contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    linked_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("ticket_id", "contact_id"),)


class TicketAttachment(Base):
    """A file a customer sent, kept in the database (so every app node sees it)."""

    __tablename__ = "ticket_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("ticket_messages.id"))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]


class TicketCounter(Base):
    """One row per year; ``UPDATE ... SET value = value + 1 RETURNING value`` numbers tickets."""

    __tablename__ = "ticket_counters"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    value: Mapped[int] = mapped_column(default=0)


class InboundEmail(Base):
    """Every email received (SMTP or IMAP), for de-duplication and per-sender rate limits."""

    __tablename__ = "inbound_emails"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_key: Mapped[str] = mapped_column(String(300), unique=True)
    sender: Mapped[str] = mapped_column(String(320), index=True)
    received_at: Mapped[datetime] = mapped_column(index=True)
    subject: Mapped[str] = mapped_column(String(300), default="")
    size_bytes: Mapped[int] = mapped_column(default=0)
    source: Mapped[str] = mapped_column(String(10))  # smtp, imap, api
    outcome: Mapped[str] = mapped_column(String(20))  # created, joined, bounce
    acknowledged: Mapped[bool] = mapped_column(default=False)
    reason: Mapped[str | None] = mapped_column(String(200))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)


class TicketTag(Base):
    """A label an agent puts on a case (``billing``, ``fibra``) to find and group it."""

    __tablename__ = "ticket_tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    tag: Mapped[str] = mapped_column(String(40), index=True)
    added_at: Mapped[datetime]
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    __table_args__ = (UniqueConstraint("ticket_id", "tag"),)


class TicketMerge(Base):
    """A duplicate case absorbed by another: its number keeps leading to the surviving case."""

    __tablename__ = "ticket_merges"

    id: Mapped[int] = mapped_column(primary_key=True)
    absorbed_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), unique=True)
    survivor_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    merged_at: Mapped[datetime]
    merged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class SavedView(Base):
    """A named set of case-list filters: personal (its owner's) or shared with everyone."""

    __tablename__ = "saved_views"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    shared: Mapped[bool] = mapped_column(default=False)
    filters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]


class CannedReply(Base):
    """A prepared answer in one language, with placeholders filled when an agent picks it."""

    __tablename__ = "canned_replies"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(120))
    language: Mapped[str] = mapped_column(String(5))
    body: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("title", "language"),)
