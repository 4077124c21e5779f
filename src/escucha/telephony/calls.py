"""The internal telephony interface: a call comes in, walks the IVR, waits, ends (W1, W2, C1).

Every provider speaks to escucha through these functions: the Twilio webhooks
(``escucha.web.twilio_webhooks``) and the built-in browser phone (``escucha.web.phone``). Each
answers a :class:`~escucha.telephony.rules.Turn`, what the line does next, which the provider
renders (TwiML, a page).

A call is a :class:`~escucha.contacts.models.Contact` whose ``provider_ref`` is
``"<provider>:<call id>"`` (a Twilio CallSid, a browser phone id). Its place in the IVR lives on
the contact (``ivr_node``; the choices in ``ivr_path`` and in the event log), so any node can
answer the next webhook. Every caller input is numbered: the turn tells the number the next
input must carry (``Turn.seq``) and each input is written with the event-log key
``"<provider_ref>:input:<n>"``; an input that arrives twice (a retried webhook) changes nothing
the second time and is answered with what the caller hears now.

A queue closed by its calendar and the voicemail box are :mod:`escucha.telephony.after_hours`
(W6); the calls escucha places itself (callbacks dialled, Twilio lines redirected) are
:mod:`escucha.telephony.dialer`; the pieces all three build turns from are
:mod:`escucha.telephony.turns`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import datetime
from functools import cache, lru_cache
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha.callbacks import service as callbacks
from escucha.callbacks.models import Callback
from escucha.contacts import service as contacts
from escucha.contacts.models import Contact, ContactEvent, Customer, Estimate
from escucha.db.session import xact_lock
from escucha.errors import InvalidInput, NotFound
from escucha.ivr import rules as ivr
from escucha.ivr.schemas import validate_ivr
from escucha.ivr.service import example_path, load_ivr
from escucha.org import home
from escucha.org.models import Calendar, Organisation
from escucha.promises import rules as prules
from escucha.promises import service as promises
from escucha.routing import service as routing
from escucha.telephony import rules as R
from escucha.telephony.after_hours import (
    _closed,
    _closed_input,
    _closed_offer,
    _finish_voicemail,
    _voicemail,
)
from escucha.telephony.turns import (
    CLOSED_NODE,
    NOTICE_NODE,
    VOICEMAIL_NODE,
    _callback_said,
    _customer_of,
    _end,
    _inputs,
    _no_queue,
    _queue_row,
    _retries,
    _turn,
    call_key,
    callback_number,
)
from escucha.yamlio import YamlFileError

log = logging.getLogger("escucha.telephony")

FALLBACK_IVR = "agua"
#: Contact states where the caller is with (or being put through to) an agent.
LIVE: dict[str, R.Phase] = {"offered": "offered", "connected": "connected", "on_hold": "on_hold"}
MAX_DIGITS = 20
MAX_SPEECH = 300

# --------------------------------------------------------------------------------------------
# The IVR the callers hear
# --------------------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _model_from_json(text: str) -> ivr.IvrModel | None:
    try:
        return validate_ivr(json.loads(text), "organisation.ivr").to_model()
    except YamlFileError as exc:
        log.error("the organisation's IVR is not valid: %s", exc)
        return None


@cache
def _fallback_model() -> ivr.IvrModel:
    return load_ivr(example_path(FALLBACK_IVR))


def ivr_model(session: Session) -> ivr.IvrModel:
    """The organisation's IVR (``Organisation.ivr``), or the bundled water-utility example.

    The example is used, with a log line saying so, while the organisation has no valid IVR.
    """
    org = session.scalar(select(Organisation).limit(1))
    stored = dict(org.ivr) if org is not None and org.ivr else {}
    if stored:
        model = _model_from_json(json.dumps(stored, sort_keys=True, default=str))
        if model is not None:
            return model
        log.warning(
            "the organisation's IVR cannot be used; calls hear the bundled example "
            "src/escucha/ivr/examples/%s.yaml until it is fixed (escucha ivr lint)",
            FALLBACK_IVR,
        )
    else:
        log.warning(
            "the organisation has no IVR (Organisation.ivr is empty); calls hear the bundled "
            "example src/escucha/ivr/examples/%s.yaml: add an `ivr:` key to the organisation "
            "YAML and apply it",
            FALLBACK_IVR,
        )
    return _fallback_model()


def _say_why_closed(session: Session, step: ivr.Step, *, now: datetime) -> ivr.Step:
    """The IVR is closed now: after the greeting, name today's holiday or closure when one of
    the organisation's calendars knows it ("Hoy estamos cerrados por Nochebuena.")."""
    lang = step.state.language
    for calendar_id in session.scalars(select(Calendar.id).order_by(Calendar.id)):
        reason = promises.closed_now(session, calendar_id, now, lang=R.base_language(lang)).reason
        if reason:
            why = ivr.Utterance(
                step.state.node, "message", lang, R.phrase("closed_reason", lang, reason=reason)
            )
            greeting = tuple(u for u in step.say if u.kind == "greeting")
            rest = tuple(u for u in step.say if u.kind != "greeting")
            return replace(step, say=(*greeting, why, *rest))
    return step


def ivr_is_open(model: ivr.IvrModel, now: datetime) -> bool:
    """Whether the IVR's business hours are open (always, when it states none)."""
    return ivr.is_open(model.business_hours, now) if model.business_hours is not None else True


def path_for_agent(session: Session, contact: Contact, language: str) -> list[str]:
    """The IVR path of a contact, readable (``["main: 2 · facturas"]``)."""
    org = session.scalar(select(Organisation).limit(1))
    model = None
    if org is not None and org.ivr:
        model = _model_from_json(json.dumps(dict(org.ivr), sort_keys=True, default=str))
    return R.path_steps(model, contact.ivr_path or [], language)


# --------------------------------------------------------------------------------------------
# Finding calls
# --------------------------------------------------------------------------------------------


def find_call(
    session: Session, provider: str, call_ref: str, *, lock: bool = False
) -> Contact | None:
    """The contact of a call, or ``None``; ``lock`` serialises webhooks of one call."""
    key = call_key(provider, call_ref)
    if lock:
        xact_lock(session, "call", key)
    return session.scalar(select(Contact).where(Contact.provider_ref == key))


def _call(session: Session, provider: str, call_ref: str) -> Contact:
    contact = find_call(session, provider, call_ref, lock=True)
    if contact is None:
        raise NotFound(f"no call {provider}:{call_ref}")
    return contact


def _identify(
    session: Session, number: str | None, *, now: datetime, language: str | None, verified: bool
) -> tuple[Customer | None, bool]:
    """The caller by their number (created on first call), and whether they were known.

    A number nobody verified (typed on a web page) never finds a customer: the caller gets a
    record of their own, so nobody can appear as another customer or read their history.
    """
    if not number:
        return None, False
    try:
        e164 = contacts.normalise_phone(number)
    except InvalidInput:
        return None, False  # withheld numbers, SIP or client identities
    if not verified:
        return contacts.find_or_create_customer(session, now=now, language=language), False
    known = contacts.find_by_point(session, "phone", e164) is not None or (
        session.scalar(select(Customer.id).where(Customer.phone == e164)) is not None
    )
    customer = contacts.find_or_create_customer(
        session, now=now, phone=e164, language=language, verified=True
    )
    return customer, known


def _answer(session: Session, agent: int, contact: Contact, *, now: datetime) -> None:
    """The agent's leg is answered; a callback's customer is then reached (as
    :func:`escucha.flows.calls.answer` does for the screens)."""
    routing.answer(session, agent, contact.id, now=now)
    callbacks.reached_if_callback(session, contact, now=now)


# --------------------------------------------------------------------------------------------
# A call comes in and walks the IVR
# --------------------------------------------------------------------------------------------


def incoming_call(
    session: Session,
    *,
    provider: str,
    call_ref: str,
    from_number: str | None,
    to_number: str = "",
    now: datetime,
    language: str | None = None,
    number_verified: bool = True,
    record: bool = False,
) -> R.Turn:
    """A call arrives: the greeting and the first menu (idempotent on the call id).

    ``record``: calls are recorded here (``ESCUCHA_RECORD_CALLS``), so the IVR's recording
    notice is said before the queue, and may be refused where the IVR allows it.

    The caller is identified by ``from_number`` (a customer is created on the first call);
    ``language`` is the caller's choice when the provider knows it (the browser phone).
    ``to_number`` (the number dialled) is accepted for providers with several numbers; one
    organisation answers them all for now.
    """
    del to_number
    existing = find_call(session, provider, call_ref, lock=True)
    if existing is not None:
        return current_turn(session, existing, now=now)
    customer, known = _identify(
        session, from_number, now=now, language=language, verified=number_verified
    )
    model = ivr_model(session)
    lang = language or (customer.language if known and customer is not None else None)
    open_now = ivr_is_open(model, now)
    step = ivr.start(
        model,
        language=lang,
        caller_known=known and model.caller_lookup,
        is_open=open_now,
        hour=now.astimezone(home.zone(session)).hour,
    )
    if not open_now:
        step = _say_why_closed(session, step, now=now)
    contact = contacts.start_contact(
        session,
        channel="voice",
        now=now,
        customer=customer,
        provider=provider,
        provider_ref=call_key(provider, call_ref),
        language=step.state.language,
    )
    if not number_verified and customer is not None and from_number:
        contact.caller_number = contacts.normalise_phone(from_number)  # checked by _identify
    return _after_step(session, contact, model, step, (), now=now, record=record)


def caller_input(
    session: Session,
    provider: str,
    call_ref: str,
    *,
    now: datetime,
    digits: str | None = None,
    speech: str | None = None,
    seq: int | None = None,
    record: bool = False,
) -> R.Turn:
    """Keys or words from the caller (nothing = a timeout); the IVR moves on (C1).

    ``seq`` is the input number the previous turn gave (``Turn.seq``); an input whose number
    was already taken is a retry and changes nothing.
    """
    contact = _call(session, provider, call_ref)
    done = _inputs(session, contact)
    if seq is not None and seq <= done:
        return current_turn(session, contact, now=now)
    digits = "".join(c for c in (digits or "") if c in ivr.KEY_CHARS)[:MAX_DIGITS] or None
    speech = (speech or "").strip()[:MAX_SPEECH] or None
    if contact.state == "queued":
        return _wait(session, contact, now=now, digits=digits, speech=speech)
    if contact.state != "ivr":
        return current_turn(session, contact, now=now)
    key = f"{contact.provider_ref}:input:{done + 1}"
    if contact.ivr_node == CLOSED_NODE:
        return _closed_input(session, contact, digits, speech, key, now=now)
    if contact.ivr_node == VOICEMAIL_NODE:
        return current_turn(session, contact, now=now)
    if contact.ivr_node == NOTICE_NODE:
        return _notice_input(session, contact, digits, key, now=now)
    model = ivr_model(session)
    node = model.nodes.get(contact.ivr_node or "")
    if node is None or node.type != "menu":
        log.warning("call %s was at %r, not a menu of the IVR now; it starts again", key, node)
        step = ivr.start(
            model,
            language=contact.language,
            is_open=ivr_is_open(model, now),
            hour=now.astimezone(home.zone(session)).hour,
        )
        return _after_step(session, contact, model, step, (), now=now, record=record)
    open_now = ivr_is_open(model, now)
    step = ivr.Step(
        ivr.CallState(node.id, contact.language, (), _retries(session, contact, node.id)),
        "menu",
        timeout_s=node.timeout_s,
    )
    events: list[ivr.CallInput]
    if digits:
        events = [ivr.Keys(d) for d in digits]
    elif speech:
        events = [ivr.Speech(speech)]
    else:
        events = [ivr.NoInput()]
    prior: list[R.Say] = []
    for i, event in enumerate(events):
        here = model.nodes[step.state.node]
        if isinstance(event, ivr.Keys):
            label = event.digits
        elif isinstance(event, ivr.Speech):
            label = ivr.match_speech(model, here, event.text, step.state.language) or "speech"
        else:
            label = "timeout"
        nxt = ivr.advance(model, step, event, is_open=open_now)
        dedupe = key if i == 0 else f"{contact.provider_ref}:digit:{done + 1}:{i}"
        complained = any(u.kind in ("invalid", "no_input") for u in nxt.say)
        if complained and nxt.status == "menu" and nxt.state.node == here.id:
            contacts.transition(
                session,
                contact,
                "choose",
                at=now,
                dedupe_key=dedupe,
                node=here.id,
                key=label,
                valid=False,
            )
        else:
            contacts.ivr_choice(
                session, contact, node=here.id, key=label, now=now, dedupe_key=dedupe
            )
        if nxt.status != "menu" or i == len(events) - 1:
            step = nxt
            break
        prior.extend(R.says(nxt.say))
        step = nxt
    return _after_step(session, contact, model, step, tuple(prior), now=now, record=record)


def _after_step(
    session: Session,
    contact: Contact,
    model: ivr.IvrModel,
    step: ivr.Step,
    prior: tuple[R.Say, ...],
    *,
    now: datetime,
    record: bool = False,
) -> R.Turn:
    """Act on where the IVR has taken the call: a menu waits; the rest end the IVR.

    A recorded call hears the recording notice before the queue; where callers may refuse,
    the IVR waits for that key first (:func:`_notice_input`)."""
    contact.language = step.state.language
    lang = contact.language
    said = (*prior, *R.says(step.say))
    contact.ivr_node = step.state.node
    if step.status == "menu":
        node = model.nodes[step.state.node]
        gather = R.Gather(
            kind="menu",
            prompts=said,
            language=lang,
            timeout_s=node.timeout_s,
            speech=True,
            hints=R.menu_hints(model, node, lang),
        )
        return _turn(session, contact, "ivr", (gather,))
    if step.status == "queue":
        notice = R.says(ivr.recording_notice(model, lang)) if record else ()
        refusable = model.recording_notice is not None and model.recording_notice.refuse_key
        if notice and refusable and model.recording_notice is not None:
            contact.ivr_node = NOTICE_NODE
            contact.queue = step.queue
            gather = R.Gather(
                kind="menu",
                prompts=(*said, *notice),
                language=lang,
                timeout_s=model.recording_notice.timeout_s,
                notice=True,
            )
            return _turn(session, contact, "ivr", (gather,))
        return _to_queue(session, contact, step.queue, (*said, *notice), now=now)
    if step.status == "callback":
        return _ivr_callback(session, contact, step.queue, said, now=now)
    if step.status == "voicemail":
        return _voicemail(session, contact, step.queue or "general", said, message=bool(said))
    if step.status == "transfer" and step.number:
        contacts.transition(session, contact, "transfer_out", at=now, to=step.number, by="ivr")
        _end(session, contact, now=now, reason="transfer")
        return _turn(session, contact, "ended", (*said, R.Transfer(step.number)))
    _end(session, contact, now=now, reason="ivr")
    return _turn(session, contact, "ended", (*said, R.Hangup()))


# --------------------------------------------------------------------------------------------
# Queues, the wait loop, callbacks
# --------------------------------------------------------------------------------------------


def _notice_input(
    session: Session, contact: Contact, digits: str | None, key: str, *, now: datetime
) -> R.Turn:
    """The caller's answer to the recording notice: the refusal key makes the call
    unrecorded (kept on the contact); anything else, or nothing, goes on to the queue."""
    refused = ivr.refuses_recording(ivr_model(session), digits)
    contacts.transition(
        session,
        contact,
        "choose",
        at=now,
        dedupe_key=key,
        node=ivr.NOTICE_NODE,
        key=digits[:1] if digits else "timeout",
        recording="refused" if refused else "accepted",
    )
    lang = contact.language
    said = (R.Say(R.phrase("not_recorded", lang), lang),) if refused else ()
    return _to_queue(session, contact, contact.queue, said, now=now)


def recording_refused(session: Session, contact: Contact) -> bool:
    """Whether the caller refused the recording of this call (or of the call a callback is
    for) at the IVR's notice."""
    ids = [contact.id, *([contact.parent_id] if contact.parent_id else [])]
    rows = session.scalars(
        select(ContactEvent.data).where(
            ContactEvent.contact_id.in_(ids), ContactEvent.event == "ivr_choice"
        )
    )
    return any(d.get("node") == ivr.NOTICE_NODE and d.get("recording") == "refused" for d in rows)


def _announcement(session: Session, contact: Contact, told: routing.Told) -> tuple[R.Say, ...]:
    out = [R.Say(told.text, contact.language)]
    if told.callback_offered and callback_number(_customer_of(session, contact), contact):
        out.append(
            R.Say(
                R.phrase("callback_offer", contact.language, key=R.CALLBACK_KEY), contact.language
            )
        )
    return tuple(out)


def _to_queue(
    session: Session,
    contact: Contact,
    queue_name: str | None,
    said: tuple[R.Say, ...],
    *,
    now: datetime,
) -> R.Turn:
    """Put the caller in line, route at once, and tell them their place and wait (W1)."""
    lang = contact.language
    queue = _queue_row(session, queue_name)
    if queue is None:
        return _no_queue(session, contact, said, now=now)
    cal = promises.calendar(session, queue.calendar_id, now)
    if not prules.is_open(cal, now):
        return _closed(session, contact, queue, said, now=now)
    contacts.enqueue(
        session, contact, queue.name, now=now, skills=queue.skills, priority=queue.priority
    )
    routing.dispatch(session, now=now)  # reloads the contact if the pass offered it
    if contact.state == "offered" and contact.agent_id is not None:
        connect = R.Say(R.phrase("connect", lang), lang)
        return _turn(session, contact, "offered", (*said, connect, R.Connect(contact.agent_id)))
    told = routing.tell_estimate(session, contact, now=now)
    announcement = (*said, *_announcement(session, contact, told))
    quiet = R.ANNOUNCE_EVERY_S
    return _turn(session, contact, "queue", R.wait_actions(announcement, lang, quiet_s=quiet))


def wait_turn(
    session: Session,
    provider: str,
    call_ref: str,
    *,
    now: datetime,
    digits: str | None = None,
    speech: str | None = None,
    announce_every_s: float = R.ANNOUNCE_EVERY_S,
    woken: bool | None = None,
) -> R.Turn:
    """One pass of the wait loop (W1, W2).

    When an agent has been chosen the line connects (on a woken line, see
    :func:`~escucha.telephony.rules.connect_now`); otherwise the caller hears their position
    and estimate every ``announce_every_s`` seconds (a fresh estimate, stored with the wait
    that follows), and the callback key turns the call into a callback that keeps their place.
    """
    contact = _call(session, provider, call_ref)
    if contact.state == "offered" and not R.connect_now(woken, contact.offered_at, now):
        return _turn(session, contact, "offered", R.wait_actions((), contact.language))
    return _wait(session, contact, now=now, digits=digits, speech=speech, every_s=announce_every_s)


def _wait(
    session: Session,
    contact: Contact,
    *,
    now: datetime,
    digits: str | None = None,
    speech: str | None = None,
    every_s: float = R.ANNOUNCE_EVERY_S,
) -> R.Turn:
    if contact.state != "queued":
        return current_turn(session, contact, now=now)
    if R.wants_callback(digits, speech, contact.language):
        return _take_callback(session, contact, now=now)
    last = session.scalar(
        select(Estimate.given_at)
        .where(Estimate.contact_id == contact.id)
        .order_by(Estimate.id.desc())
        .limit(1)
    )
    announcement: tuple[R.Say, ...] = ()
    quiet = R.quiet_for(last, now, every_s)
    if R.should_announce(last, now, every_s):
        announcement = _announcement(
            session, contact, routing.tell_estimate(session, contact, now=now)
        )
        quiet = every_s
    actions = R.wait_actions(announcement, contact.language, quiet_s=quiet)
    return _turn(session, contact, "queue", actions)


def _take_callback(session: Session, contact: Contact, *, now: datetime) -> R.Turn:
    """The waiting caller takes a callback: it keeps their place; they hear the promised time."""
    lang = contact.language
    customer = _customer_of(session, contact)
    number = callback_number(customer, contact)
    if customer is None or not number or not contact.queue:
        no_number = R.Say(R.phrase("no_number", lang), lang)
        return _turn(session, contact, "queue", R.wait_actions((no_number,), lang))
    cb = callbacks.request_callback(
        session, now=now, queue=contact.queue, customer=customer, contact=contact, phone=number
    )
    said = _callback_said(session, contact, cb, now=now)
    return _turn(session, contact, "callback", (said, R.Hangup()))


def take_callback(session: Session, provider: str, call_ref: str, *, now: datetime) -> R.Turn:
    """The caller asks for a callback now (the browser phone's key), wherever the call is.

    Waiting in line: the callback keeps their place. In a menu: a callback for the queue of the
    IVR's way to a person. With the queue closed: the callback at the stated time.
    """
    contact = _call(session, provider, call_ref)
    if contact.state == "queued":
        return _take_callback(session, contact, now=now)
    if contact.state == "ivr" and contact.ivr_node == CLOSED_NODE:
        key = f"{contact.provider_ref}:input:{_inputs(session, contact) + 1}"
        return _closed_input(session, contact, R.CLOSED_CALLBACK_KEY, None, key, now=now)
    if contact.state == "ivr" and contact.ivr_node != VOICEMAIL_NODE:
        model = ivr_model(session)
        person = model.nodes.get(model.agent or "")
        queue = person.queue if person is not None else None
        return _ivr_callback(session, contact, queue, (), now=now)
    return current_turn(session, contact, now=now)


def _ivr_callback(
    session: Session,
    contact: Contact,
    queue_name: str | None,
    said: tuple[R.Say, ...],
    *,
    now: datetime,
) -> R.Turn:
    """A callback node of the IVR: a callback with a concrete time, never "as soon as possible"."""
    lang = contact.language
    queue = _queue_row(session, queue_name)
    customer = _customer_of(session, contact)
    if queue is None:
        return _no_queue(session, contact, said, now=now)
    number = callback_number(customer, contact)
    if customer is None or not number:
        no_number = R.Say(R.phrase("no_number", lang), lang)
        return _voicemail(session, contact, queue.name, (*said, no_number), message=False)
    cb = callbacks.request_callback(
        session, now=now, queue=queue.name, customer=customer, contact=contact, phone=number
    )
    return _turn(
        session,
        contact,
        "callback",
        (*said, _callback_said(session, contact, cb, now=now), R.Hangup()),
    )


# --------------------------------------------------------------------------------------------
# A message left (W6)
# --------------------------------------------------------------------------------------------


def leave_voicemail(
    session: Session,
    provider: str,
    call_ref: str,
    *,
    now: datetime,
    recording_url: str | None = None,
    text: str | None = None,
    duration_s: float | None = None,
) -> R.Turn:
    """The message is recorded (a Twilio recording URL, or text typed on the browser phone)."""
    contact = _call(session, provider, call_ref)
    lang = contact.language
    saved = R.Say(R.phrase("voicemail_saved", lang), lang)
    if contact.state == "ivr" and contact.ivr_node == VOICEMAIL_NODE:
        _finish_voicemail(
            session, contact, now=now, recording_url=recording_url, text=text, duration_s=duration_s
        )
        return _turn(session, contact, "ended", (saved, R.Hangup()))
    if contact.outcome == "voicemail":
        what = recording_url or (text or "").strip()
        if what and what not in (contact.notes or ""):
            contact.notes = (
                (contact.notes or "") + f"\nMensaje de voz / Voicemail: {what}"
            ).strip()
        return _turn(session, contact, "ended", (saved, R.Hangup()))
    return current_turn(session, contact, now=now)


# --------------------------------------------------------------------------------------------
# What the caller hears now, the end of a call, the agent's leg
# --------------------------------------------------------------------------------------------


def current_turn(session: Session, contact: Contact, *, now: datetime) -> R.Turn:
    """What the line does for this call now, changing nothing (retries, reloads)."""
    lang = contact.language
    state = contact.state
    if contact.channel == "callback":
        return _callback_turn(session, contact)
    if state == "ivr":
        if contact.ivr_node == CLOSED_NODE:
            queue = _queue_row(session, contact.queue)
            if queue is not None:
                gather, _slot = _closed_offer(session, contact, queue, now=now)
                return _turn(session, contact, "closed", (gather,))
        if contact.ivr_node == VOICEMAIL_NODE:
            return _turn(
                session,
                contact,
                "voicemail",
                (R.Say(R.phrase("voicemail", lang), lang), R.Record()),
            )
        model = ivr_model(session)
        if contact.ivr_node == NOTICE_NODE and model.recording_notice is not None:
            notice = R.says(ivr.recording_notice(model, lang))
            timeout = model.recording_notice.timeout_s
            gather = R.Gather(
                kind="menu", prompts=notice, language=lang, timeout_s=timeout, notice=True
            )
            return _turn(session, contact, "ivr", (gather,))
        node = model.nodes.get(contact.ivr_node or "")
        if node is not None and node.type == "menu":
            prompt = R.Say(ivr.menu_prompt(model, node, lang), lang)
            gather = R.Gather(
                kind="menu",
                prompts=(prompt,),
                language=lang,
                timeout_s=node.timeout_s,
                speech=True,
                hints=R.menu_hints(model, node, lang),
            )
            return _turn(session, contact, "ivr", (gather,))
        return _turn(session, contact, "ivr", R.wait_actions((), lang))
    if state == "queued":
        return _turn(session, contact, "queue", R.wait_actions((), lang))
    if state == "on_hold" and contact.provider == "twilio":
        return _turn(session, contact, "on_hold", R.hold_actions(lang))
    if state in LIVE and contact.agent_id is not None:
        return _turn(session, contact, LIVE[state], (R.Connect(contact.agent_id),))
    if state == "callback":
        cb = session.scalar(select(Callback).where(Callback.origin_contact_id == contact.id))
        said = (_callback_said(session, contact, cb, now=now),) if cb is not None else ()
        return _turn(session, contact, "callback", (*said, R.Hangup()))
    return _turn(session, contact, "ended", (R.Hangup(),))


def call_ended(
    session: Session, provider: str, call_ref: str, status: str, *, now: datetime
) -> None:
    """The line reports the call is over (``completed``, ``busy``, ``no-answer``, ...).

    Waiting or in the IVR: the caller abandoned. Talking: the conversation ends and the agent
    goes to wrap-up. An outbound callback nobody answered: another attempt is planned.
    Repeated reports change nothing.
    """
    contact = find_call(session, provider, call_ref, lock=True)
    if contact is None or status not in R.FINAL_STATUSES:
        return
    if contact.channel == "callback":
        if contact.state == "offered" and contact.agent_id is not None:
            callbacks.no_answer(session, contact.agent_id, contact.id, now=now)
        elif contact.state in ("connected", "on_hold") and contact.agent_id is not None:
            routing.end_call(session, contact.agent_id, contact.id, now=now, ended_by="customer")
        return
    if contact.state == "ivr" and contact.ivr_node == VOICEMAIL_NODE:
        _finish_voicemail(session, contact, now=now, recording_url=None, text=None, duration_s=None)
    elif contact.state in ("ivr", "queued", "offered"):
        routing.abandon(session, contact, now=now, dedupe_key=f"{contact.provider_ref}:abandoned")
    elif contact.state in ("connected", "on_hold") and contact.agent_id is not None:
        routing.end_call(session, contact.agent_id, contact.id, now=now, ended_by="customer")


def agent_leg(
    session: Session,
    provider: str,
    call_ref: str,
    *,
    event: Literal["answered", "ended"],
    status: str = "",
    now: datetime,
) -> R.Turn:
    """The leg to the agent: the agent picked up, or the leg ended (``status`` says how).

    Picked up: the contact is answered. Ended unanswered: the contact goes back to its place in
    line (the agent to a break) and the caller returns to the wait loop. Ended after talking:
    the conversation is over and the agent wraps up.
    """
    contact = _call(session, provider, call_ref)
    agent = contact.agent_id
    if event == "answered":
        if contact.state == "offered" and agent is not None:
            _answer(session, agent, contact, now=now)
        return current_turn(session, contact, now=now)
    if status in R.UNANSWERED_STATUSES and contact.state == "offered" and agent is not None:
        routing.decline(session, agent, contact.id, now=now)
        session.refresh(contact)
    if contact.state == "queued":  # not picked up, or declined on the desktop: back in line
        return _wait(session, contact, now=now, every_s=0.0)
    if contact.state == "offered" and agent is not None:
        _answer(session, agent, contact, now=now)
    if contact.state == "on_hold" and contact.provider == "twilio":
        return current_turn(session, contact, now=now)  # the leg ended for the hold (TwiML)
    if contact.state in ("connected", "on_hold") and agent is not None:
        routing.end_call(session, agent, contact.id, now=now, ended_by="customer")
    return _turn(session, contact, "ended", (R.Hangup(),))


# --------------------------------------------------------------------------------------------
# A callback answered
# --------------------------------------------------------------------------------------------


def _callback_turn(session: Session, contact: Contact) -> R.Turn:
    if contact.state in LIVE and contact.agent_id is not None:
        return _turn(session, contact, LIVE[contact.state], (R.Connect(contact.agent_id),))
    return _turn(session, contact, "ended", (R.Hangup(),))


def callback_answered(session: Session, provider: str, call_ref: str, *, now: datetime) -> R.Turn:
    """The customer picked up the callback: the agent's contact is answered and connected."""
    contact = _call(session, provider, call_ref)
    if contact.channel != "callback":
        return current_turn(session, contact, now=now)
    if contact.state == "offered" and contact.agent_id is not None:
        _answer(session, contact.agent_id, contact, now=now)
    if contact.state in ("connected", "on_hold") and contact.agent_id is not None:
        org = session.scalar(select(Organisation.name).limit(1)) or "escucha"
        lang = contact.language
        hello = R.Say(R.phrase("calling_you", lang, org=org), lang)
        return _turn(session, contact, "connected", (hello, R.Connect(contact.agent_id)))
    return current_turn(session, contact, now=now)
