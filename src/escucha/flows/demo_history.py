"""Weeks of history for the demo organisation, made by escucha's own engines (day one).

Nothing here writes a row by hand: every call goes through the services a real call goes
through, in simulated time. For each past day (Monday to Saturday) the demo's agents log in,
callers arrive as a Poisson process over the office hours, walk the IVR, join a queue and hear
an estimate; the routing engine offers them to agents, who answer after a ring, sometimes put
the customer on hold (announced or not), talk for a log-normal handle time, and wrap up with
a recap (a case with a promised time when it was not solved, a complaint now and then).
Callers whose patience runs out hang up or take a callback that keeps their place. Later the
cases are answered, some before and some after their promised time, customers answer surveys
from the link in their message (some with a comment), and the supervisor reviews a sample of
calls on the scorecard. Finally the job queue runs as the worker would, so messages are written
and promises swept.

The random draws come from one seeded generator, so a history is the same every time.
"""

from __future__ import annotations

import heapq
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from escucha.auth.models import User
from escucha.callbacks import service as callbacks
from escucha.clock import FrozenClock
from escucha.config import Settings
from escucha.contacts import service as contacts
from escucha.contacts.models import Contact, Customer
from escucha.db.session import transaction
from escucha.flows import calls
from escucha.flows.wrapup import wrap_up_with_recap
from escucha.jobs import service as jobs
from escucha.notifications.models import Notification
from escucha.org import home
from escucha.org import models as org
from escucha.qa import reviews as qa
from escucha.routing import service as routing
from escucha.surveys import service as surveys
from escucha.tickets import handling
from escucha.tickets.models import Ticket

#: The demo IVR's keys to each queue, and how often callers want each.
QUEUES = {"facturas": ("2", 6.0), "averias": ("1", 3.0), "reclamaciones": ("5", 1.0)}
OPEN, CLOSE = time(8, 30), time(15, 0)  # the part of the office day simulated
FIRST_NAMES = (
    "Carmen", "Javier", "Lucía", "Antonio", "María", "José", "Elena", "Manuel", "Laura", "David",
    "Pilar", "Francisco", "Isabel", "Pablo", "Rosa", "Miguel", "Teresa", "Alberto", "Sara", "Jorge",
)  # fmt: skip
SURNAMES = (
    "García", "Fernández", "González", "Rodríguez", "López", "Martínez", "Sánchez", "Pérez",
    "Gómez", "Martín", "Jiménez", "Ruiz", "Hernández", "Díaz", "Moreno", "Álvarez", "Romero",
)  # fmt: skip
#: What was agreed, by queue: (solved?, outcome, recap). Recaps name what was done, in plain
#: words; the unsolved ones come with a promised time from the wrap-up.
RECAPS: dict[str, tuple[tuple[bool, str, str], ...]] = {
    "facturas": (
        (True, "solved", "Revisada la factura de octubre: el importe es correcto y se explica "
         "el consumo estimado."),
        (True, "informed", "Explicado el cambio de tarifa y cómo leer el nuevo recibo."),
        (True, "solved", "Cambiada la cuenta de domiciliación bancaria."),
        (False, "needs_follow_up", "Se pide la factura rectificativa del consumo estimado; "
         "le enviamos la nueva factura."),
    ),
    "averias": (
        (True, "informed", "Corte programado en su calle por obras; el agua vuelve esta tarde."),
        (False, "needs_follow_up", "Fuga en la acometida: se abre una avería y va un técnico."),
        (True, "solved", "Baja presión resuelta abriendo la llave de paso del contador."),
    ),
    "reclamaciones": (
        (False, "complaint", "Reclamación por un cobro duplicado en la factura de noviembre."),
        (False, "complaint", "Reclamación por los daños de una fuga en la vía pública."),
        (True, "informed", "Explicado cómo presentar una reclamación y su plazo de respuesta."),
    ),
}  # fmt: skip
COMMENTS = {
    True: (
        "Me atendieron enseguida y me lo explicaron todo muy claro.",
        "La agente fue muy amable y me dijo exactamente cuándo me llamarían.",
        "Rápido y sin tener que repetir nada.",
    ),
    False: (
        "Esperé demasiado y nadie me dijo cuánto faltaba.",
        "Me pusieron en espera sin avisar y casi cuelgo.",
        "Sigo sin la factura corregida que me prometieron.",
    ),
}


@dataclass
class HistorySummary:
    days: int = 0
    calls: int = 0
    answered: int = 0
    abandoned: int = 0
    callbacks: int = 0
    cases: int = 0
    cases_answered: int = 0
    surveys: int = 0
    reviews: int = 0


@dataclass(order=True)
class _Event:
    at: datetime
    seq: int
    act: Callable[[Session, datetime], None] = field(compare=False)


class _Day:
    """One simulated day: the event list and what the agents are doing."""

    def __init__(self, rng: np.random.Generator, summary: HistorySummary) -> None:
        self.rng = rng
        self.summary = summary
        self.events: list[_Event] = []
        self.seq = 0
        self.scheduled: set[int] = set()  # contacts whose offer has an answer scheduled
        self.agents: dict[int, User] = {}

    def at(self, when: datetime, act: Callable[[Session, datetime], None]) -> None:
        self.seq += 1
        heapq.heappush(self.events, _Event(when, self.seq, act))

    def run(self, session: Session, until: datetime) -> None:
        while self.events and self.events[0].at <= until:
            event = heapq.heappop(self.events)
            event.act(session, event.at)
            self.offers(session, event.at)

    def offers(self, session: Session, now: datetime) -> None:
        """Every contact the routing engine offered gets its answer after a ring."""
        for contact_id, agent_id in session.execute(
            select(Contact.id, Contact.agent_id).where(Contact.state == "offered")
        ):
            if contact_id in self.scheduled or agent_id is None:
                continue
            self.scheduled.add(contact_id)
            ring = timedelta(seconds=float(self.rng.uniform(3, 9)))
            self.at(now + ring, self._answer(int(agent_id), int(contact_id)))

    def _answer(self, agent_id: int, contact_id: int) -> Callable[[Session, datetime], None]:
        def act(session: Session, now: datetime) -> None:
            contact = session.get(Contact, contact_id)
            if contact is None or contact.state != "offered" or contact.agent_id != agent_id:
                return
            calls.answer(session, agent_id, contact_id, now=now)
            self.summary.answered += 1
            handle = float(self.rng.lognormal(math.log(200.0), 0.5))
            if self.rng.random() < 0.25:  # a hold in the middle of the call
                start = now + timedelta(seconds=handle * 0.4)
                told = bool(self.rng.random() < 0.85)
                length = timedelta(seconds=float(self.rng.uniform(30, 150)))
                self.at(start, self._hold(agent_id, contact_id, told))
                self.at(start + length, self._resume(agent_id, contact_id))
            self.at(now + timedelta(seconds=handle), self._hang_up(agent_id, contact_id))

        return act

    def _hold(
        self, agent_id: int, contact_id: int, told: bool
    ) -> Callable[[Session, datetime], None]:
        def act(session: Session, now: datetime) -> None:
            contact = session.get(Contact, contact_id)
            if contact is not None and contact.state == "connected":
                routing.hold(session, agent_id, contact_id, now=now, announced=told)

        return act

    def _resume(self, agent_id: int, contact_id: int) -> Callable[[Session, datetime], None]:
        def act(session: Session, now: datetime) -> None:
            contact = session.get(Contact, contact_id)
            if contact is not None and contact.state == "on_hold":
                routing.resume(session, agent_id, contact_id, now=now)

        return act

    def _hang_up(self, agent_id: int, contact_id: int) -> Callable[[Session, datetime], None]:
        def act(session: Session, now: datetime) -> None:
            contact = session.get(Contact, contact_id)
            if contact is None or contact.state not in ("connected", "on_hold"):
                return
            if contact.state == "on_hold":
                routing.resume(session, agent_id, contact_id, now=now)
            routing.end_call(session, agent_id, contact_id, now=now, ended_by="customer")
            wrap = timedelta(seconds=float(self.rng.uniform(20, 90)))
            self.at(now + wrap, self._wrap_up(agent_id, contact_id))

        return act

    def _wrap_up(self, agent_id: int, contact_id: int) -> Callable[[Session, datetime], None]:
        def act(session: Session, now: datetime) -> None:
            contact = session.get(Contact, contact_id)
            if contact is None or contact.state != "wrap_up":
                return
            options = RECAPS.get(contact.queue or "", RECAPS["facturas"])
            solved, outcome, recap = options[int(self.rng.integers(len(options)))]
            promised = None
            if not solved:
                days = 1 if outcome != "complaint" else 5
                local = (now + timedelta(days=days)).astimezone(home.zone(session))
                if local.weekday() == 6:  # nobody works on Sunday: promise Monday
                    local += timedelta(days=1)
                promised = local.replace(hour=13, minute=0, second=0, microsecond=0)
            wrap_up_with_recap(
                session,
                self.agents[agent_id],
                contact_id,
                now=now,
                outcome=outcome,
                resolved=solved,
                recap=recap,
                promised_at=promised,
                ticket_kind="complaint" if outcome == "complaint" else "request",
            )
            self.summary.cases += 0 if solved else 1

        return act


def _customers(session: Session, rng: np.random.Generator, now: datetime) -> list[Customer]:
    """A pool of customers, so that some call more than once (repeat contacts, history)."""
    pool = []
    for i in range(160):
        name = f"{FIRST_NAMES[i % len(FIRST_NAMES)]} {SURNAMES[(i * 7) % len(SURNAMES)]}"
        phone = f"+346{int(rng.integers(10_000_000, 99_999_999))}"
        language = "en" if i % 12 == 0 else "es"
        pool.append(
            contacts.find_or_create_customer(
                session, now=now, phone=phone, name=name, language=language
            )
        )
    return pool


def _arrivals(
    rng: np.random.Generator, day: datetime, per_hour: float
) -> list[tuple[datetime, str]]:
    """Arrival times over the simulated hours, more in the late morning, and their queues."""
    out: list[tuple[datetime, str]] = []
    names = list(QUEUES)
    weights = np.array([QUEUES[n][1] for n in names])
    t = day.replace(hour=OPEN.hour, minute=OPEN.minute)
    end = day.replace(hour=CLOSE.hour, minute=CLOSE.minute)
    while True:
        hour = t.hour + t.minute / 60
        rate = per_hour * (0.6 + 0.8 * math.exp(-((hour - 11.0) ** 2) / 3.0))
        t += timedelta(seconds=float(rng.exponential(3600.0 / rate)))
        if t >= end:
            return out
        out.append((t, names[int(rng.choice(len(names), p=weights / weights.sum()))]))


def _caller(
    day: _Day, customer: Customer, queue: str, patience_s: float
) -> Callable[[Session, datetime], None]:
    def act(session: Session, now: datetime) -> None:
        key, _weight = QUEUES[queue]
        skills = session.scalar(select(org.Queue.skills).where(org.Queue.name == queue)) or {}
        contact = contacts.start_contact(
            session, channel="voice", now=now, customer=customer, provider="demo"
        )
        contacts.ivr_choice(session, contact, node="main", key=key, now=now)
        contacts.enqueue(session, contact, queue, now=now, skills=dict(skills))
        routing.tell_estimate(session, contact, now=now)
        routing.dispatch(session, now=now)
        day.summary.calls += 1
        day.at(now + timedelta(seconds=patience_s), _patience(day, contact.id, customer.id))

    return act


def _patience(day: _Day, contact_id: int, customer_id: int) -> Callable[[Session, datetime], None]:
    def act(session: Session, now: datetime) -> None:
        contact = session.get(Contact, contact_id)
        customer = session.get(Customer, customer_id)
        if contact is None or customer is None or contact.state != "queued":
            return
        if day.rng.random() < 0.4 and contact.queue:
            callbacks.request_callback(
                session, now=now, queue=contact.queue, customer=customer, contact=contact
            )
            day.summary.callbacks += 1
        else:
            routing.abandon(session, contact, now=now)
            day.summary.abandoned += 1

    return act


def _agent_day(day: _Day, user_id: int, start: datetime, end: datetime) -> None:
    def log_in(session: Session, now: datetime) -> None:
        status = routing.agent_status(session, user_id, now=now)
        if status.contact_id is None and status.state != "available":
            routing.set_agent_state(session, user_id, "available", now=now)

    def pause(state: str) -> Callable[[Session, datetime], None]:
        def act(session: Session, now: datetime) -> None:
            status = routing.agent_status(session, user_id, now=now)
            if status.contact_id is None and status.state != state:
                routing.set_agent_state(session, user_id, state, now=now)
            elif state == "offline":  # still on a call: log off when it is done
                day.at(now + timedelta(minutes=2), act)

        return act

    day.at(start, log_in)
    lunch = start + timedelta(hours=3, minutes=float(day.rng.uniform(0, 40)))
    day.at(lunch, pause("break"))
    day.at(lunch + timedelta(minutes=20), log_in)
    day.at(end, pause("offline"))


def _answer_cases(
    session: Session, rng: np.random.Generator, now: datetime, summary: HistorySummary
) -> None:
    """Cases promised by ``now`` are answered: most in time, some late (a broken promise)."""
    admin = session.scalar(select(User).where(User.role == "supervisor"))
    if admin is None:
        return
    for ticket in session.scalars(
        select(Ticket).where(Ticket.status.in_(("new", "open")), Ticket.created_at < now)
    ):
        if rng.random() < 0.55:
            continue  # answered another day (or still open, for the demo's inbox)
        text = (
            "Hemos revisado su caso y queda resuelto: le hemos enviado la factura corregida."
            if ticket.kind != "complaint"
            else "Hemos estimado su reclamación y le devolvemos el importe en su próxima factura."
        )
        handling.resolve(session, ticket, text, user=admin, now=now, base_url="", channel=None)
        summary.cases_answered += 1


def _surveys(
    session: Session, rng: np.random.Generator, day_start: datetime, now: datetime,
    summary: HistorySummary,
) -> None:  # fmt: skip
    """Customers answer the survey from the link in their message; some leave a comment."""
    for contact in session.scalars(
        select(Contact).where(
            Contact.state == "ended", Contact.answered_at >= day_start, Contact.answered_at < now
        )
    ):
        if rng.random() > 0.6:
            continue
        survey = surveys.offer_survey(session, contact, now=contact.ended_at or now, base_url="")
        if survey is None or rng.random() > 0.45:  # most people do not answer
            continue
        # The customer opens the link in the invitation they were sent.
        note = session.scalar(
            select(Notification).where(Notification.idempotency_key == f"survey:{contact.id}")
        )
        found = re.search(r"/s/([A-Za-z0-9_-]+)", note.body) if note is not None else None
        if found is None:
            continue
        happy = rng.random() < (0.9 if contact.resolved else 0.35)
        score = int(rng.integers(4, 6)) if happy else int(rng.integers(1, 4))
        comment = None
        if rng.random() < 0.4:
            options = COMMENTS[happy]
            comment = options[int(rng.integers(len(options)))]
        surveys.record_link_answers(
            session,
            found.group(1),
            now=(contact.ended_at or now) + timedelta(hours=float(rng.uniform(1, 20))),
            csat=score,
            nps=min(10, score * 2),
            comment=comment,
        )
        summary.surveys += 1


def _reviews(
    session: Session, rng: np.random.Generator, day_start: datetime, now: datetime,
    summary: HistorySummary,
) -> None:  # fmt: skip
    """The supervisor reviews two calls of the day on the current scorecard."""
    reviewer = session.scalar(select(User).where(User.role == "supervisor"))
    if reviewer is None:
        return
    done = list(
        session.scalars(
            select(Contact.id).where(
                Contact.state == "ended",
                Contact.answered_at >= day_start,
                Contact.answered_at < now,
            )
        )
    )
    for contact_id in rng.permutation(done)[:2].tolist():
        review = qa.start_review(session, int(contact_id), reviewer.id, now=now)
        card = qa.review_scorecard(session, review)
        answers: dict[str, str | None] = {}
        for criterion in card.criteria():
            options = sorted(card.scales[criterion.scale], key=lambda o: o.points)
            best = options[-1].value
            answers[criterion.id] = best if rng.random() < 0.85 else options[0].value
        qa.submit_review(session, review.id, reviewer.id, answers, now=now)
        summary.reviews += 1


def make_history(
    factory: sessionmaker[Session],
    settings: Settings,
    *,
    now: datetime,
    weeks: int = 3,
    seed: int = 7,
    calls_per_hour: float = 6.0,
    progress: Callable[[str], None] | None = None,
) -> HistorySummary:
    """Fill the last ``weeks`` weeks before ``now`` with the demo's calls, cases, surveys and
    reviews (one transaction per day), then run the job queue as the worker would."""
    rng = np.random.default_rng(seed)
    summary = HistorySummary()
    with transaction(factory) as session:
        zone = home.zone(session)
    today = now.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    first = today - timedelta(days=7 * weeks)
    with transaction(factory) as session:
        pool = _customers(session, rng, first)
        pool_ids = [c.id for c in pool]
    for offset in range(7 * weeks):
        local_day = first + timedelta(days=offset)
        if local_day.weekday() == 6:  # Sunday: the office is closed
            continue
        day_start = local_day.astimezone(zone)
        with transaction(factory) as session:
            day = _Day(rng, summary)
            agents = list(session.scalars(select(User).where(User.role == "agent")))
            day.agents = {u.id: u for u in agents}
            start = day_start.replace(hour=OPEN.hour, minute=OPEN.minute)
            end = day_start.replace(hour=CLOSE.hour, minute=CLOSE.minute)
            for user in agents:
                _agent_day(day, user.id, start - timedelta(minutes=5), end + timedelta(minutes=20))
            rate = calls_per_hour * (0.5 if local_day.weekday() == 5 else 1.0)
            for at, queue in _arrivals(rng, day_start, rate):
                customer = session.get(Customer, pool_ids[int(rng.integers(len(pool_ids)))])
                if customer is None:
                    continue
                patience = float(rng.exponential(120.0))
                day.at(at, _caller(day, customer, queue, patience))
            day.run(session, day_start + timedelta(hours=23))
            evening = day_start.replace(hour=19)
            _surveys(session, rng, day_start, evening, summary)
            _reviews(session, rng, day_start, evening, summary)
            _answer_cases(session, rng, evening, summary)
            summary.days += 1
        if progress is not None:
            progress(f"{local_day:%Y-%m-%d}: {summary.calls} calls so far")
    # What the worker would have done meanwhile: messages written, promises swept.
    jobs.run_due(factory, settings, FrozenClock(now), limit=100_000)
    return summary


def has_history(session: Session) -> bool:
    """Whether the database already holds contacts (a history is made only once)."""
    return bool(session.scalar(select(func.count()).select_from(Contact)))
