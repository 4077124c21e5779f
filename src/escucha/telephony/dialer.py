"""Calls escucha places or steers itself: the callbacks an agent dials (the browser phone's page,
the organisation's PBX, or Twilio through its REST API) and the live Twilio calls it redirects
(a waiting caller woken when an agent is chosen, a call put on hold or resumed, ADR 12 and 24).

The Twilio requests run in jobs (``telephony.dial``, ``telephony.wake``, ``telephony.hold``)
written in the same transaction as the decision (ADR 2).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha.callbacks import service as callbacks
from escucha.callbacks.models import Callback
from escucha.config import Settings
from escucha.contacts import service as contacts
from escucha.contacts.models import Contact
from escucha.errors import ConfigurationError, Conflict, NotFound
from escucha.jobs.service import enqueue
from escucha.notifications.senders import twilio_rest_client
from escucha.telephony import rules as R
from escucha.telephony.turns import call_key

log = logging.getLogger("escucha.telephony")


class OutboundDialer(Protocol):
    """Places the call of a callback; returns the provider's call id."""

    name: str

    def dial(self, callback: Callback, contact: Contact, *, now: datetime) -> str: ...


class BrowserDialer:
    """The browser phone: the caller's page rings (the customer is known by their number)."""

    name = "browser"

    def dial(self, callback: Callback, contact: Contact, *, now: datetime) -> str:
        return f"cb{callback.id}-{callback.attempts}"


class TwilioDialer:
    """Twilio Programmable Voice through its REST client (``calls.create``)."""

    name = "twilio"

    def __init__(self, client: Any, *, from_number: str, base_url: str) -> None:
        self.client = client
        self.from_number = from_number
        self.base_url = base_url.rstrip("/")

    @classmethod
    def from_settings(cls, settings: Settings) -> TwilioDialer:
        if not twilio_ready(settings):
            raise ConfigurationError(
                "Twilio dialling needs ESCUCHA_TWILIO_ACCOUNT_SID, ESCUCHA_TWILIO_AUTH_TOKEN, "
                "ESCUCHA_TWILIO_FROM_NUMBER and ESCUCHA_BASE_URL"
            )
        client = twilio_rest_client(settings)
        return cls(client, from_number=settings.twilio_from_number, base_url=settings.base_url)

    def dial(self, callback: Callback, contact: Contact, *, now: datetime) -> str:
        call = self.client.calls.create(
            to=callback.phone,
            from_=self.from_number,
            url=f"{self.base_url}/telephony/twilio/outbound",
            method="POST",
            status_callback=f"{self.base_url}/telephony/twilio/status",
            status_callback_method="POST",
            timeout=30,
        )
        return str(call.sid)


def twilio_ready(settings: Settings) -> bool:
    """Whether outbound calls can go through Twilio."""
    return bool(
        settings.twilio_account_sid
        and settings.twilio_auth_token
        and settings.twilio_from_number
        and settings.base_url
    )


def twilio_rest_ready(settings: Settings) -> bool:
    """Whether escucha can redirect live Twilio calls (REST credentials and its address)."""
    return bool(settings.twilio_account_sid and settings.twilio_auth_token and settings.base_url)


#: Seconds the REST request that wakes a line may take (well inside the grace).
WAKE_TIMEOUT_S = 1.5


def wake_line(session: Session, contact_id: int, *, settings: Settings, now: datetime) -> bool:
    """Redirect a waiting Twilio call to ``/wait?woken=1`` now that an agent has been chosen,
    so it connects at once rather than when its silence ends (job ``telephony.wake``).

    Best effort, tried once: nothing is done (``False``) when the contact is no longer offered
    or was offered more than ``WAKE_WITHIN_S`` ago, is not a Twilio caller in line, or escucha
    has no REST credentials; a failed request is logged. Either way the caller's own next pass
    of the wait loop connects once ``WOKEN_GRACE_S`` have passed (see ``rules.connect_now``).
    """
    contact = session.get(Contact, contact_id)
    if (
        contact is None
        or contact.provider_ref is None
        or contact.provider != "twilio"
        or contact.channel != "voice"
        or contact.state != "offered"
        or contact.offered_at is None
        or (now - contact.offered_at).total_seconds() >= R.WAKE_WITHIN_S
        or not twilio_rest_ready(settings)
    ):
        return False
    # the call may have ended; the wait loop connects by itself
    return _redirect(contact, "/wait?woken=1", settings=settings, failed="call not woken")


def _redirect(contact: Contact, path: str, *, settings: Settings, failed: str) -> bool:
    """Point a live Twilio call at ``/telephony/twilio{path}`` (REST); a failure is logged."""
    sid = (contact.provider_ref or "").split(":", 1)[1]
    url = f"{settings.base_url.rstrip('/')}/telephony/twilio{path}"
    try:
        client = twilio_rest_client(settings, timeout_s=WAKE_TIMEOUT_S)
        client.calls(sid).update(url=url, method="POST")
    except Exception as exc:
        log.warning(failed, extra={"contact_id": contact.id, "error": str(exc)[:300]})
        return False
    return True


def hold_line(session: Session, contact_id: int, *, settings: Settings) -> bool:
    """Redirect a Twilio call whose agent put it on hold (or resumed it) so the line follows:
    on hold the caller hears the hold message (:func:`rules.hold_actions`) and the agent's
    leg ends; resumed, ``<Dial><Client>`` rings the agent's desk again (job
    ``telephony.hold``, after the change is committed). Best effort, tried once."""
    contact = session.get(Contact, contact_id)
    if (
        contact is None
        or contact.provider != "twilio"
        or contact.provider_ref is None
        or contact.state not in ("connected", "on_hold")
        or not twilio_rest_ready(settings)
    ):
        return False
    return _redirect(contact, "/wait", settings=settings, failed="hold not sent")


def twilio_dialer(settings: Settings) -> OutboundDialer:
    """The Twilio dialer for these settings (replaced in tests)."""
    return TwilioDialer.from_settings(settings)


def outbound_provider(session: Session, cb: Callback, settings: Settings) -> str:
    """Browser-phone callers are called back on their page; others through the organisation's
    PBX when escucha drives one (ADR 22), else through Twilio when set up."""
    origin = session.get(Contact, cb.origin_contact_id) if cb.origin_contact_id else None
    if origin is not None and origin.provider == "browser":
        return "browser"
    if settings.ari_url:
        return "asterisk"
    return "twilio" if twilio_ready(settings) else "browser"


def dial_callback(
    session: Session,
    user_id: int,
    contact_id: int,
    *,
    now: datetime,
    settings: Settings,
    provider: str | None = None,
) -> Contact:
    """The agent calls the customer back (the callback offered to them).

    The first attempt made on time keeps the callback's promise. ``provider`` forces the line
    (``"twilio"`` when the customer's page is closed). A browser-phone customer's page rings
    at once; a Twilio call is placed by the ``telephony.dial`` job, in the same
    transaction as this decision.
    """
    contact = contacts.get_contact(session, contact_id, lock=True)
    if contact.channel != "callback" or contact.agent_id != user_id or contact.state != "offered":
        raise Conflict(f"contact {contact_id} is not a callback offered to you")
    cb = callbacks.for_contact(session, contact.id)
    if cb is None:
        raise NotFound(f"contact {contact_id} is not a callback")
    if cb.state == "dialing":
        return contact
    callbacks.dialing(session, cb, now=now)
    provider = provider or outbound_provider(session, cb, settings)
    contact.provider = provider
    if provider == "browser":
        contact.provider_ref = call_key("browser", BrowserDialer().dial(cb, contact, now=now))
    elif provider == "asterisk":
        contact.provider_ref = None  # the node driving the PBX dials it (asterisk_dials)
    else:
        contact.provider_ref = None
        enqueue(
            session,
            "telephony.dial",
            {"callback_id": cb.id, "attempt": cb.attempts},
            now=now,
            idempotency_key=f"callback:{cb.id}:dial:{cb.attempts}",
        )
    session.flush()
    return contact


def dial_now(
    session: Session, callback_id: int, attempt: int, *, now: datetime, settings: Settings
) -> None:
    """Place the Twilio call of a callback attempt (the ``telephony.dial`` job)."""
    cb = callbacks.get(session, callback_id)
    contact = contacts.get_contact(session, cb.contact_id, lock=True)
    if cb.state != "dialing" or cb.attempts != attempt or contact.provider_ref:
        return
    sid = twilio_dialer(settings).dial(cb, contact, now=now)
    contact.provider = "twilio"
    contact.provider_ref = call_key("twilio", sid)
    log.info("callback %s attempt %s dialled: %s", cb.id, attempt, sid)


def asterisk_dials(session: Session) -> list[tuple[Contact, Callback]]:
    """Callbacks an agent asked to dial through the PBX that no line has rung yet."""
    rows = session.execute(
        select(Contact, Callback)
        .join(Callback, Callback.contact_id == Contact.id)
        .where(
            Contact.channel == "callback",
            Contact.state == "offered",
            Contact.provider == "asterisk",
            Contact.provider_ref.is_(None),
            Callback.state == "dialing",
        )
        .order_by(Contact.id)
    )
    return [(contact, cb) for contact, cb in rows]


def ringing_callback(session: Session, customer_id: int) -> Contact | None:
    """A callback being dialled to this customer's browser phone, if any."""
    return session.scalar(
        select(Contact)
        .join(Callback, Callback.contact_id == Contact.id)
        .where(
            Contact.customer_id == customer_id,
            Contact.channel == "callback",
            Contact.state == "offered",
            Contact.provider == "browser",
            Callback.state == "dialing",
        )
        .order_by(Contact.id.desc())
        .limit(1)
    )
