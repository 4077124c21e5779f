"""Customers, contacts and the contact event log (the source of truth for every KPI)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from escucha.contacts import lifecycle
from escucha.db.base import Base

EVENTS = (
    "arrived",
    "ivr_choice",
    "queued",
    "estimate_given",
    "callback_offered",
    "callback_requested",
    "abandoned",
    "offered",
    "declined",
    "answered",
    "hold_started",
    "hold_ended",
    "transferred",
    "consult_started",
    "consult_ended",
    "wrapped_up",
    "ended",
)
CHANNELS = ("voice", "callback", "email", "web", "sms", "voicemail")
#: The states of a contact and the moves between them: :mod:`escucha.contacts.lifecycle`.
STATES = lifecycle.STATES


class Customer(Base):
    """A person who contacts the centre. ``phone`` and ``email`` are where messages go (the
    preferred contact points); every phone and email they are known by is a
    :class:`CustomerPoint`."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    language: Mapped[str] = mapped_column(String(5), default="es")
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Madrid")
    created_at: Mapped[datetime]
    consent_sms: Mapped[bool] = mapped_column(default=False)
    consent_email: Mapped[bool] = mapped_column(default=False)
    notes: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime | None]
    #: Merged into another record: everything of this one now belongs to that one.
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    #: Personal data erased at the person's request (the row stays, anonymous).
    erased_at: Mapped[datetime | None]


POINT_KINDS = ("phone", "email")


class CustomerPoint(Base):
    """A phone number (E.164) or email address (lower case) a customer is known by.

    ``verified``: the network gave the number (a call's caller ID) or the address wrote to us;
    only verified points identify a customer on a new contact.
    """

    __tablename__ = "customer_points"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    value: Mapped[str] = mapped_column(String(320))
    label: Mapped[str] = mapped_column(String(40), default="")
    verified: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("kind", "value"),)


class Contact(Base):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(20))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    queue: Mapped[str | None] = mapped_column(String(80))
    language: Mapped[str] = mapped_column(String(5), default="es")
    provider: Mapped[str] = mapped_column(String(20), default="browser")
    provider_ref: Mapped[str | None] = mapped_column(String(100), unique=True)
    ivr_path: Mapped[list[Any]] = mapped_column(default=list)
    ivr_node: Mapped[str | None] = mapped_column(String(80))
    priority: Mapped[int] = mapped_column(default=0)
    skills: Mapped[dict[str, Any]] = mapped_column(default=dict)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    arrived_at: Mapped[datetime]
    queued_at: Mapped[datetime | None]
    joined_at: Mapped[datetime | None]  # the caller's place in line (kept by a callback)
    offered_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(40))
    resolved: Mapped[bool | None]
    recap: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)
    #: A number the caller typed (a web call) and nobody verified: used to call them back,
    #: never to find or merge a customer's history.
    caller_number: Mapped[str | None] = mapped_column(String(20))

    __table_args__ = (Index("ix_contacts_state_queue", "state", "queue"),)


class ContactEvent(Base):
    __tablename__ = "contact_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    event: Mapped[str] = mapped_column(String(30))
    at: Mapped[datetime] = mapped_column(index=True)
    queue: Mapped[str | None] = mapped_column(String(80))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)


class Estimate(Base):
    """A wait estimate told to a caller, beside the wait that followed."""

    __tablename__ = "estimates"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    queue: Mapped[str] = mapped_column(String(80), index=True)
    given_at: Mapped[datetime]
    position: Mapped[int]
    estimate_s: Mapped[float]
    bound_s: Mapped[float]
    predictor: Mapped[str] = mapped_column(String(40))
    actual_wait_s: Mapped[float | None]
    outcome: Mapped[str | None] = mapped_column(String(20))
