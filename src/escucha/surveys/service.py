"""Post-contact surveys (M1, M2): offer one per contact, record answers, report the measures.

* :func:`offer_survey` creates the survey of an ended contact and, for SMS or email, writes
  the invitation to the outbox with a link and the date it expires (a concrete day and time in
  the customer's zone). An IVR survey has no message: the IVR asks the questions at once and
  calls :func:`record_ivr_answers`.
* :func:`record_link_answers` records the answers given on the public page ``/s/{token}``
  (once; never after the expiry).
* :func:`survey_summary` gives response rates and CSAT, CES and NPS (standard definitions in
  :mod:`escucha.surveys.rules`) by queue, agent or channel.

A customer is asked at most once every :data:`QUIET_DAYS` days, so people who call often are
not flooded with surveys; the contacts skipped are simply not surveyed.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_datetime
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from escucha import languages
from escucha.auth.models import User
from escucha.contacts.models import Contact, Customer
from escucha.contacts.service import agent_of
from escucha.errors import Conflict, InvalidInput, NotFound
from escucha.notifications import service as notifications
from escucha.notifications.models import Notification
from escucha.notifications.service import channel_for
from escucha.org import service as org_service
from escucha.surveys import rules
from escucha.surveys.models import SURVEY_CHANNELS, SURVEY_KINDS, Survey

VALID_DAYS = 7
QUIET_DAYS = 7
IVR_VALID = timedelta(hours=1)
MAX_COMMENT = 2000
SCALES: dict[str, tuple[int, int]] = {"csat": (1, 5), "ces": (1, 7), "nps": (0, 10)}
DEFAULT_KINDS: tuple[str, ...] = SURVEY_KINDS


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def survey_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/s/{token}"


# --- the invitation text ----------------------------------------------------------------------


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(languages.DEFAULT_ZONE)


def moment_phrase(at: datetime, *, lang: str, tz: str) -> str:
    """``"lunes 30 de noviembre a las 10:00"`` / ``"Monday 30 November at 10:00"``."""
    zone = _zone(tz)
    if lang == "en":
        return str(format_datetime(at, "EEEE d MMMM 'at' HH:mm", tzinfo=zone, locale="en_GB"))
    return str(format_datetime(at, "EEEE d 'de' MMMM 'a las' HH:mm", tzinfo=zone, locale="es_ES"))


def expiry_phrase(expires_at: datetime, *, lang: str, tz: str) -> str:
    """``"el lunes 30 de noviembre a las 10:00"`` / ``"Monday 30 November at 10:00"``."""
    text = moment_phrase(expires_at, lang=lang, tz=tz)
    return text if lang == "en" else f"el {text}"


@dataclass(frozen=True)
class Invitation:
    subject: str
    body: str  # email
    sms: str


def render_invitation(
    *, lang: str, url: str, expires_at: datetime, tz: str, organisation: str = ""
) -> Invitation:
    """The survey invitation in Spanish or English, with its link and its expiry date."""
    until = expiry_phrase(expires_at, lang=lang, tz=tz)
    who = f"{organisation}: " if organisation else ""
    if lang == "en":
        subject = "How did we do? Three questions about your call"
        sms = (
            f"{who}thank you for contacting us. How did we do? "
            f"Tell us in one minute: {url} (open until {until})."
        )
        body = (
            "Hello,\n\n"
            "Thank you for contacting us. We would like to know how we did, so we can improve "
            "how we work. There are three short questions and a box for your comments; it takes "
            "about one minute.\n\n"
            f"{url}\n\n"
            f"The link works until {until}. Your answers are read by the people who organise "
            "the service, to fix what made things harder for you.\n\n"
            f"{organisation}\n"
        )
    else:
        subject = "¿Qué tal le atendimos? Tres preguntas sobre su consulta"
        sms = (
            f"{who}gracias por contactar con nosotros. ¿Qué tal le atendimos? "
            f"Cuéntenoslo en un minuto: {url} (hasta {until})."
        )
        body = (
            "Hola:\n\n"
            "Gracias por contactar con nosotros. Queremos saber qué tal le atendimos para "
            "mejorar nuestra forma de trabajar. Son tres preguntas breves y un espacio para sus "
            "comentarios; se tarda un minuto.\n\n"
            f"{url}\n\n"
            f"El enlace funciona hasta {until}. Sus respuestas las leen las personas que "
            "organizan el servicio, para corregir lo que se lo puso difícil.\n\n"
            f"{organisation}\n"
        )
    return Invitation(subject=subject, body=body.rstrip() + "\n", sms=sms)


def queue_message(
    session: Session,
    customer: Customer,
    *,
    channel: str,
    address: str,
    kind: str,
    subject: str,
    body: str,
    key: str,
    now: datetime,
) -> Notification:
    """Write a pre-rendered message to the outbox and queue it for sending (idempotent on
    ``key``), exactly as :func:`escucha.notifications.service.notify` does."""
    return notifications.queued(session, key) or notifications.write_outbox(
        session,
        customer,
        channel=channel,
        address=address,
        kind=kind,
        subject=subject,
        body=body,
        key=key,
        now=now,
    )


# --- offering -----------------------------------------------------------------------------


def survey_of(session: Session, contact_id: int) -> Survey | None:
    return session.scalar(select(Survey).where(Survey.contact_id == contact_id))


def _recently_surveyed(session: Session, customer_id: int, now: datetime) -> bool:
    if QUIET_DAYS <= 0:
        return False
    since = now - timedelta(days=QUIET_DAYS)
    return (
        session.scalar(
            select(Survey.id)
            .where(
                Survey.customer_id == customer_id,
                Survey.sent_at > since,
                Survey.channel != "ivr",
            )
            .limit(1)
        )
        is not None
    )


def offer_survey(
    session: Session,
    contact: Contact,
    *,
    now: datetime,
    channel: str | None = None,
    base_url: str = "",
    kinds: Iterable[str] = DEFAULT_KINDS,
    valid_days: int = VALID_DAYS,
) -> Survey | None:
    """The contact's survey, created and sent on first call (one per contact).

    ``channel``: ``"sms"``, ``"email"``, ``"ivr"`` or ``None`` (the customer's phone, else
    email; email first for email contacts). Returns ``None`` when the contact is not surveyed:
    it has not ended, has no customer, the customer has no address for the channel, or the
    customer was sent a survey in the last :data:`QUIET_DAYS` days. ``base_url`` is the
    public address of escucha (``settings.public_url``) for the link.
    """
    if channel is not None and channel not in SURVEY_CHANNELS:
        raise InvalidInput(f"channel: one of {', '.join(SURVEY_CHANNELS)}")
    asked = [k for k in SURVEY_KINDS if k in set(kinds)]
    if not asked:
        raise InvalidInput(f"kinds: at least one of {', '.join(SURVEY_KINDS)}")
    existing = survey_of(session, contact.id)
    if existing is not None:
        return existing
    if channel == "ivr":  # asked right after the agent hangs up, during wrap-up
        if contact.state not in ("wrap_up", "ended"):
            return None
        return _create(session, contact, channel="ivr", kinds=asked, now=now, token=None)
    if contact.state != "ended" or contact.customer_id is None:
        return None
    customer = session.get(Customer, contact.customer_id)
    if customer is None or _recently_surveyed(session, customer.id, now):
        return None
    preferred = channel or ("email" if contact.channel == "email" else "sms")
    try:
        chosen, address = channel_for(customer, preferred)
    except InvalidInput:
        return None
    if channel is not None and chosen != channel:
        return None
    token = secrets.token_urlsafe(24)
    survey = _create(
        session, contact, channel=chosen, kinds=asked, now=now, token=token, valid_days=valid_days
    )
    if survey.token_hash != hash_token(token):  # another worker offered it first
        return survey
    invitation = render_invitation(
        lang=survey.language,
        url=survey_url(base_url, token),
        expires_at=survey.expires_at,
        tz=customer.timezone,
        organisation=org_service.organisation_name(session),
    )
    note = queue_message(
        session,
        customer,
        channel=chosen,
        address=address,
        kind="survey_invitation",
        subject=invitation.subject,
        body=invitation.body if chosen == "email" else invitation.sms,
        key=f"survey:{contact.id}",
        now=now,
    )
    survey.notification_id = note.id
    session.flush()
    return survey


def _create(
    session: Session,
    contact: Contact,
    *,
    channel: str,
    kinds: list[str],
    now: datetime,
    token: str | None,
    valid_days: int = VALID_DAYS,
) -> Survey:
    """Insert the contact's survey; the one already there if another writer was first."""
    customer = session.get(Customer, contact.customer_id) if contact.customer_id else None
    lang = customer.language if customer is not None else contact.language
    survey = Survey(
        contact_id=contact.id,
        customer_id=contact.customer_id,
        agent_id=agent_of(session, contact, events=("answered", "wrapped_up")),
        queue=contact.queue,
        channel=channel,
        language=languages.resolve(lang),
        kinds=kinds,
        token_hash=hash_token(token) if token else None,
        created_at=now,
        sent_at=now,
        expires_at=now + (IVR_VALID if channel == "ivr" else timedelta(days=valid_days)),
    )
    try:
        with session.begin_nested():
            session.add(survey)
            session.flush()
    except IntegrityError:
        existing = survey_of(session, contact.id)
        if existing is None:
            raise
        return existing
    return survey


def offer_recent_surveys(
    session: Session, *, now: datetime, base_url: str = "", within: timedelta | None = None
) -> int:
    """Offer surveys for contacts that ended in the last ``within`` (default one hour) and
    have none yet. Idempotent: run it as often as you like. Returns surveys created."""
    since = now - (within or timedelta(hours=1))
    contacts = session.scalars(
        select(Contact)
        .outerjoin(Survey, Survey.contact_id == Contact.id)
        .where(
            Survey.id.is_(None),
            Contact.state == "ended",
            Contact.customer_id.is_not(None),
            Contact.ended_at >= since,
            Contact.ended_at <= now,
        )
        .order_by(Contact.ended_at, Contact.id)
    ).all()
    made = 0
    for contact in contacts:
        if offer_survey(session, contact, now=now, base_url=base_url) is not None:
            made += 1
    return made


# --- answering ----------------------------------------------------------------------------


def _check_answer(kind: str, value: int | None) -> int | None:
    if value is None:
        return None
    low, high = SCALES[kind]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(f"{kind}: a whole number from {low} to {high}")
    return value


def survey_by_token(session: Session, token: str) -> Survey:
    if not token or len(token) > 200:
        raise NotFound("survey not found")
    survey = session.scalar(select(Survey).where(Survey.token_hash == hash_token(token)))
    if survey is None:
        raise NotFound("survey not found")
    return survey


def is_open(survey: Survey, now: datetime) -> bool:
    return survey.responded_at is None and now < survey.expires_at


def _store(
    survey: Survey,
    *,
    now: datetime,
    via: str,
    csat: int | None,
    ces: int | None,
    nps: int | None,
    comment: str | None,
) -> Survey:
    answers = {
        "csat": _check_answer("csat", csat),
        "ces": _check_answer("ces", ces),
        "nps": _check_answer("nps", nps),
    }
    unasked = [k for k, v in answers.items() if v is not None and k not in survey.kinds]
    if unasked:
        raise InvalidInput(f"this survey does not ask {', '.join(unasked)}")
    text = (comment or "").strip()
    if len(text) > MAX_COMMENT:
        raise InvalidInput(f"comment: at most {MAX_COMMENT} characters")
    if all(v is None for v in answers.values()) and not text:
        raise InvalidInput("answer at least one question")
    survey.csat, survey.ces, survey.nps = answers["csat"], answers["ces"], answers["nps"]
    survey.comment = text or None
    survey.responded_at = now
    survey.answered_via = via
    return survey


def record_link_answers(
    session: Session,
    token: str,
    *,
    now: datetime,
    csat: int | None = None,
    ces: int | None = None,
    nps: int | None = None,
    comment: str | None = None,
) -> Survey:
    """Answers from the survey page: once, and only before the survey expires."""
    survey = survey_by_token(session, token)
    if survey.responded_at is not None:
        raise Conflict("this survey has already been answered")
    if now >= survey.expires_at:
        raise Conflict("this survey has expired")
    _store(survey, now=now, via="link", csat=csat, ces=ces, nps=nps, comment=comment)
    session.flush()
    return survey


def record_ivr_answers(
    session: Session,
    contact_id: int,
    *,
    now: datetime,
    csat: int | None = None,
    ces: int | None = None,
    nps: int | None = None,
) -> Survey:
    """Answers keyed in the IVR right after the contact.

    Uses the contact's survey when it exists and is unanswered (an IVR survey offered with
    ``offer_survey(channel="ivr")``, or an SMS/email one not yet answered); creates an IVR
    survey otherwise.
    """
    contact = session.get(Contact, contact_id)
    if contact is None:
        raise NotFound(f"contact {contact_id} not found")
    survey = survey_of(session, contact_id)
    if survey is None:
        given = [k for k, v in (("csat", csat), ("ces", ces), ("nps", nps)) if v is not None]
        survey = _create(
            session, contact, channel="ivr", kinds=given or list(DEFAULT_KINDS), now=now, token=None
        )
    if survey.responded_at is not None:
        raise Conflict("this contact's survey has already been answered")
    _store(survey, now=now, via="ivr", csat=csat, ces=ces, nps=nps, comment=None)
    session.flush()
    return survey


# --- measures -----------------------------------------------------------------------------

GROUPS = ("queue", "agent", "channel")


@dataclass(frozen=True)
class SurveyGroup:
    """Surveys sent in a period for one queue, agent or channel, with their measures."""

    key: str
    label: str
    sent: int
    answered: int
    response_rate: float | None
    csat: rules.CsatSummary
    ces: rules.CesSummary
    nps: rules.NpsSummary


def _summarise(key: str, label: str, rows: list[Survey]) -> SurveyGroup:
    answered = [s for s in rows if s.responded_at is not None]
    return SurveyGroup(
        key=key,
        label=label,
        sent=len(rows),
        answered=len(answered),
        response_rate=rules.response_rate(len(rows), len(answered)),
        csat=rules.csat(s.csat for s in answered if s.csat is not None),
        ces=rules.ces(s.ces for s in answered if s.ces is not None),
        nps=rules.nps(s.nps for s in answered if s.nps is not None),
    )


def survey_summary(
    session: Session, *, since: datetime, until: datetime, by: str = "queue"
) -> tuple[SurveyGroup, list[SurveyGroup]]:
    """The total and one row per group of the surveys sent in ``[since, until)``."""
    if by not in GROUPS:
        raise InvalidInput(f"group by: one of {', '.join(GROUPS)}")
    rows = list(
        session.scalars(
            select(Survey)
            .where(Survey.sent_at >= since, Survey.sent_at < until)
            .order_by(Survey.id)
        )
    )
    names: dict[int, str] = {}
    if by == "agent":
        ids = {s.agent_id for s in rows if s.agent_id is not None}
        if ids:
            names = dict(
                session.execute(select(User.id, User.display_name).where(User.id.in_(ids))).all()
            )
    groups: dict[str, list[Survey]] = {}
    labels: dict[str, str] = {}
    for s in rows:
        if by == "queue":
            key = s.queue or "-"
            labels[key] = key
        elif by == "agent":
            key = str(s.agent_id) if s.agent_id is not None else "-"
            labels[key] = names.get(s.agent_id or 0, "-")
        else:
            key = s.channel
            labels[key] = key
        groups.setdefault(key, []).append(s)
    total = _summarise("all", "all", rows)
    return total, [_summarise(k, labels[k], v) for k, v in sorted(groups.items())]


def describe(survey: Survey) -> dict[str, Any]:
    """A survey as JSON for the API."""
    return {
        "id": survey.id,
        "contact_id": survey.contact_id,
        "customer_id": survey.customer_id,
        "agent_id": survey.agent_id,
        "queue": survey.queue,
        "channel": survey.channel,
        "language": survey.language,
        "kinds": list(survey.kinds),
        "sent_at": survey.sent_at.isoformat(),
        "expires_at": survey.expires_at.isoformat(),
        "responded_at": survey.responded_at.isoformat() if survey.responded_at else None,
        "answered_via": survey.answered_via,
        "csat": survey.csat,
        "ces": survey.ces,
        "nps": survey.nps,
        "comment": survey.comment,
    }
