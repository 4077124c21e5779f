"""Tickets and complaints in the database: numbers, routing, promises, thread (P1-P6, M4)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from escucha.audit import service as audit
from escucha.audit.models import AuditEvent
from escucha.clock import FrozenClock
from escucha.config import Settings
from escucha.contacts import service as contacts
from escucha.errors import InvalidInput
from escucha.jobs.service import run_due
from escucha.notifications.models import Notification
from escucha.promises import rules as prules
from escucha.promises import service as promises
from escucha.promises.calendars import years_around
from escucha.promises.models import Promise
from escucha.tickets import (
    estimates,
    handling,
    opening,
    planning,
    profiles,
    reporting,
    service,
    status_page,
)
from escucha.tickets.models import Ticket, TicketContact, TicketMessage
from escucha.tickets.rules import parse_ticket_number
from tests.conftest import START
from tests.factories import make_agent, make_org

BASE = "https://ayuda.example"


def _complaint(
    session: Session, text: str | None = "Me han cobrado dos veces", **kw: object
) -> opening.Opened:
    intake = opening.Intake(
        channel=str(kw.pop("channel", "web")),
        description=text,
        name="Lucía Pérez",
        email=str(kw.pop("email", "lucia@example.es")),
        **kw,  # type: ignore[arg-type]
    )
    return opening.file_complaint(session, intake, now=START, base_url=BASE)


def _count(session: Session, model: type) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_a_complaint_gets_a_checked_number_the_complaints_team_and_its_deadline(
    session: Session,
) -> None:
    o = make_org(session)
    opened = _complaint(session)
    t = opened.ticket
    assert str(parse_ticket_number(t.number)) == t.number  # the check digit is right
    assert t.number.startswith("2026-")
    assert t.kind == "complaint"
    assert t.status == "new"
    assert t.team_id == o.complaints.id
    by_kind = {p.kind: p for p in opened.promises}
    assert by_kind["acknowledgment"].state == "kept"
    # The resolution is due at the earlier of the legal 15 working days and the team's own
    # 15 business days (its office also opens on Saturdays, so the team's is earlier).
    profile = profiles.load_builtin_profile("es-ley-10-2025")
    legal = profiles.profile_legal_calendar(profile, years=years_around(START))
    legal_due = prules.add_business_days(legal, START, 15)
    team_due = prules.add_business_days(promises.calendar(session, o.office.id, START), START, 15)
    assert by_kind["resolution"].due_at == min(legal_due, team_due).replace(second=0)
    assert by_kind["resolution"].state == "pending"
    assert team_due < legal_due
    # The acknowledgment is in the outbox, with number, code and the promised date.
    note = opened.notification
    assert note is not None
    assert note.channel == "email"
    assert note.kind == "complaint_ack"
    assert t.number in note.body
    assert t.verification_code in note.body
    assert f"{BASE}/status?number={t.number}" in note.body
    actions = [e.action for e in audit.events_for(session, "ticket", t.id)]
    assert actions == ["ticket.created"]


@pytest.mark.parametrize(
    "text",
    [
        "",
        None,
        "   \n\t ",
        "Sois unos incompetentes y unos ladrones, esto es una vergüenza",
        "Das ist eine Beschwerde über die Rechnung",
        "这是投诉：账单错了",
        "شكوى بخصوص الفاتورة",
        "🙃" * 4000,
        "x" * service.MAX_DESCRIPTION,
        "no funciona internet, reinicié el router",
    ],
)
def test_no_text_is_refused_a_complaint(session: Session, text: str | None) -> None:
    make_org(session)
    opened = _complaint(session, text)
    assert opened.ticket.kind == "complaint"
    parse_ticket_number(opened.ticket.number)
    assert opened.ticket.description_missing == (not (text or "").strip())
    if opened.ticket.description_missing:
        assert [p.code for p in opened.problems] == ["empty_description"]
        assert opened.notification is not None
        assert "no tenemos la descripción" in opened.notification.body


def test_a_description_over_the_limit_is_registered_and_kept_whole(session: Session) -> None:
    make_org(session)
    text = ("Línea de la reclamación con acentos y 🙃.\n" * 600).strip()
    assert len(text) > service.MAX_DESCRIPTION
    opened = _complaint(session, text)
    ticket = opened.ticket
    parse_ticket_number(ticket.number)
    assert ticket.description.endswith("[…]")
    assert len(ticket.description) <= service.MAX_DESCRIPTION
    assert text.startswith(ticket.description.removesuffix("\n[…]"))
    (whole,) = service.attachments_of(session, ticket.id)
    assert whole.filename == service.FULL_TEXT_FILE
    assert whole.data.decode("utf-8") == text
    assert [p.code for p in opened.problems] == ["long_description"]
    created = session.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "ticket.created", AuditEvent.subject_id == ticket.id
        )
    )
    assert created is not None
    assert created.data["description_chars"] == len(text)


def test_a_complaint_is_registered_even_without_organisation_or_contact_details(
    session: Session,
) -> None:
    opened = opening.file_complaint(
        session,
        opening.Intake(channel="web", description="Queja", phone="not a phone", email="nope"),
        now=START,
        base_url=BASE,
    )
    t = opened.ticket
    assert t.team_id is None
    assert t.customer_id is None
    assert t.regulatory_profile == "generic"
    assert opened.notification is None
    assert "not a phone" in (t.contact_note or "")
    assert "nope" in (t.contact_note or "")
    assert any(p.kind == "resolution" and p.state == "pending" for p in opened.promises)


def test_saying_you_want_to_complain_makes_it_a_complaint(session: Session) -> None:
    o = make_org(session)
    opened = opening.open_ticket(
        session,
        opening.Intake(
            channel="email",
            kind="fault",
            description="No funciona el contador y quiero poner una reclamación",
            email="a@example.es",
        ),
        now=START,
        base_url=BASE,
    )
    assert opened.ticket.kind == "complaint"
    assert opened.upgraded_to_complaint
    assert opened.ticket.team_id == o.complaints.id
    plain = opening.open_ticket(
        session,
        opening.Intake(channel="email", description="No funciona el contador", email="b@e.es"),
        now=START,
        base_url=BASE,
    )
    assert plain.ticket.kind == "fault"
    assert plain.ticket.team_id == o.faults.id
    assert plain.ticket.kind_hint == "fault"


def test_numbers_follow_the_year_counter_and_a_rollback_gives_the_number_back(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as s:
        first = [opening.allocate_number(s, 2026)[0] for _ in range(3)]
        s.rollback()
    with session_factory() as s:
        again = opening.allocate_number(s, 2026)
        other_year = opening.allocate_number(s, 2027)
        s.commit()
    assert first == [1, 2, 3]
    assert again == (1, "2026-0000001-" + again[1][-1])
    assert other_year[0] == 1


def test_numbers_stay_unique_when_many_sessions_take_them_at_once(
    session_factory: sessionmaker[Session],
) -> None:
    taken: list[int] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(5):
                with session_factory() as s:
                    seq, _number = opening.allocate_number(s, 2026)
                    s.commit()
                with lock:
                    taken.append(seq)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(taken) == list(range(1, 21))


def test_a_phone_wrap_up_opens_a_ticket_with_the_time_the_agent_promised(
    session: Session,
) -> None:
    o = make_org(session)
    agent = make_agent(session, o.care)
    customer = contacts.find_or_create_customer(session, now=START, phone="+34600111222")
    contact = contacts.start_contact(
        session, channel="voice", now=START, customer=customer, queue=None
    )
    promised = START + timedelta(days=1, hours=2)
    opened = opening.open_ticket_from_contact(
        session,
        contact,
        kind="request",
        description="Cambio de titular del contrato",
        user=agent,
        now=START,
        base_url=BASE,
        promised_at=promised,
    )
    t = opened.ticket
    assert t.channel == "voice"
    assert t.assignee_id == agent.id
    assert t.origin_contact_id == contact.id
    assert session.scalar(select(TicketContact.contact_id).where(TicketContact.ticket_id == t.id))
    update = [p for p in opened.promises if p.kind == "update"]
    assert len(update) == 1
    assert update[0].due_at == promised
    note = opened.notification
    assert note is not None
    assert note.channel == "sms"
    assert note.to_address == "+34600111222"
    assert t.number in note.body
    assert "mañana antes de las 12:00" in note.body
    first = service.thread(session, t.id)[0]
    assert first.author_kind == "agent"
    assert first.body == "Cambio de titular del contrato"


def test_the_written_queue_estimate_follows_backlog_and_staffing(session: Session) -> None:
    o = make_org(session)
    cal = promises.calendar(session, o.office.id, START)
    empty = estimates.written_queue_eta(session, o.care, now=START, cal=cal)
    assert (empty.ahead, empty.agents, empty.samples) == (0, 1, 0)
    assert empty.work_s == estimates.DEFAULT_HANDLING_S
    # Two agents who answer email, three emails waiting, measured handling times 600 and 1200.
    make_agent(session, o.care, skills={"email": 1})
    make_agent(session, o.care, skills={"email": 2})
    make_agent(session, o.care, skills={"facturas": 1})  # does not answer email
    replier = make_agent(session, o.care)
    for i, work in enumerate((600.0, 1200.0)):
        answered = opening.open_ticket(
            session,
            opening.Intake(channel="email", description=f"Pregunta {i}", email=f"q{i}@e.es"),
            now=START - timedelta(days=2),
            base_url=BASE,
        ).ticket
        handling.reply_to_customer(
            session,
            answered,
            "Su lectura es correcta.",
            user=replier,
            now=START - timedelta(days=1),
            base_url=BASE,
            work_s=work,
        )
    for i in range(3):
        opening.open_ticket(
            session,
            opening.Intake(channel="email", description=f"Duda {i}", email=f"d{i}@e.es"),
            now=START,
            base_url=BASE,
        )
    eta = estimates.written_queue_eta(session, o.care, now=START, cal=cal)
    assert (eta.ahead, eta.agents, eta.samples) == (3, 2, 2)
    assert eta.handling_s == pytest.approx(900.0)
    assert eta.work_s == pytest.approx(4 * 900.0 / 2)
    expected = prules.round_up_local(
        prules.add_business_time(cal, START, timedelta(seconds=eta.work_s)), "Europe/Madrid", 5
    )
    assert eta.due == expected
    # Late on Saturday the same backlog is answered when the office opens on Monday.
    saturday = datetime(2026, 11, 28, 13, 30, tzinfo=UTC)  # 14:30 in Madrid, closed
    later = estimates.written_queue_eta(session, o.care, now=saturday, cal=cal)
    monday_open = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
    assert later.due == monday_open + timedelta(seconds=later.work_s)


@pytest.mark.parametrize("answered", [25, 19])
def test_the_written_estimate_is_never_earlier_than_the_team_has_been_answering(
    session: Session, answered: int
) -> None:
    """With an empty inbox backlog over staffing would promise 15 minutes; the team answered
    80 % of last week's emails within 2 business hours, so 2 hours is promised (once 20 answers
    are there to tell)."""
    o = make_org(session)
    cal = promises.calendar(session, o.office.id, START)
    replier = make_agent(session, o.care)
    for i in range(answered):
        created = datetime(2026, 11, 16 + i % 5, 8, i, tzinfo=UTC)  # 09:xx in Madrid, Mon-Fri
        ticket = opening.open_ticket(
            session,
            opening.Intake(channel="email", description=f"Consulta {i}", email=f"c{i}@e.es"),
            now=created,
            base_url=BASE,
        ).ticket
        delay = timedelta(hours=2 if i < 20 else 6)  # the same day, inside office hours
        handling.reply_to_customer(
            session, ticket, "Respuesta.", user=replier, now=created + delay, base_url=BASE
        )
    eta = estimates.written_queue_eta(session, o.care, now=START, cal=cal)
    assert eta.ahead == 0
    assert eta.backlog_s == pytest.approx(estimates.DEFAULT_HANDLING_S)
    assert eta.responses == answered
    if answered >= estimates.MIN_RESPONSE_SAMPLES:
        assert eta.responded_s == pytest.approx(2 * 3600)
        assert eta.work_s == pytest.approx(2 * 3600)
        assert eta.due == START + timedelta(hours=2)  # 12:00 in Madrid
    else:
        assert eta.responded_s is None
        assert eta.work_s == pytest.approx(estimates.DEFAULT_HANDLING_S)


def test_an_email_request_is_acknowledged_with_the_estimated_time(session: Session) -> None:
    o = make_org(session)
    make_agent(session, o.care, skills={"email": 1})
    opened = opening.open_ticket(
        session,
        opening.Intake(channel="email", description="¿Cuándo se factura?", email="e@e.es"),
        now=START,
        base_url=BASE,
    )
    assert opened.eta is not None
    first = next(p for p in opened.promises if p.kind == "first_response")
    assert first.due_at == opened.eta.due
    note = opened.notification
    assert note is not None
    assert note.kind == "email_auto_ack"
    assert "hoy antes de las 10:15" in note.body  # 10:00 Madrid + 15 min, rounded to 5


def test_a_reply_keeps_the_first_response_promise_and_goes_to_the_outbox(
    session: Session,
) -> None:
    make_org(session)
    agent = make_agent(session)
    opened = _complaint(session)
    t = opened.ticket
    with pytest.raises(InvalidInput, match="promises no time"):
        handling.reply_to_customer(
            session, t, "Lo revisamos lo antes posible", user=agent, now=START, base_url=BASE
        )
    later = START + timedelta(hours=2)
    msg = handling.reply_to_customer(
        session,
        t,
        "Hemos visto el doble cargo; le devolvemos 30 € el viernes 27.",
        user=agent,
        now=later,
        base_url=BASE,
    )
    assert t.status == "open"
    assert t.first_response_at == later
    assert t.assignee_id == agent.id
    first = next(p for p in planning.promises_of(session, t.id) if p.kind == "first_response")
    assert first.state == "kept"
    note = session.get(Notification, msg.notification_id)
    assert note is not None
    assert note.to_address == "lucia@example.es"
    assert t.number in note.subject
    assert "30 €" in note.body
    assert note.status == "pending"
    internal = handling.add_note(session, t, "Revisar con facturación", user=agent, now=later)
    assert internal.visibility == "internal"
    view = status_page.customer_view(session, t)
    assert all("facturación" not in h.body for h in view.history)


def test_changing_the_promised_time_tells_the_customer_why(session: Session) -> None:
    make_org(session)
    agent = make_agent(session)
    t = _complaint(session).ticket
    old = next(p for p in planning.pending_promises(session, t.id) if p.kind == "resolution")
    new_due = old.due_at + timedelta(days=2)
    with pytest.raises(InvalidInput, match="reason"):
        handling.reschedule_promise(
            session, t, old.id, new_due, reason=" ", user=agent, now=START, base_url=BASE
        )
    new = handling.reschedule_promise(
        session,
        t,
        old.id,
        new_due,
        reason="esperamos el informe del laboratorio",
        user=agent,
        now=START,
        base_url=BASE,
    )
    assert old.state == "cancelled"
    assert old.reason == "esperamos el informe del laboratorio"
    assert new.state == "pending"
    assert new.due_at == new_due
    assert new.kind == "resolution"
    note = session.scalar(select(Notification).where(Notification.kind == "promise_changed"))
    assert note is not None
    assert "informe del laboratorio" in note.body
    assert "promise.rescheduled" in [e.action for e in audit.events_for(session, "ticket", t.id)]


def test_resolving_keeps_promises_notifies_and_an_appeal_is_planned(session: Session) -> None:
    make_org(session, profile="generic")
    agent = make_agent(session)
    t = _complaint(session).ticket
    later = START + timedelta(hours=2)
    handling.resolve(
        session, t, "Devolución de 30 € hecha hoy.", user=agent, now=later, base_url=BASE
    )
    assert t.status == "resolved"
    assert t.notified_at == later
    assert t.resolved_at == later
    states = {p.kind: p.state for p in planning.promises_of(session, t.id)}
    assert states["resolution"] == "kept"
    assert states["first_response"] == "kept"
    handling.appeal(
        session, t, "No estoy de acuerdo", now=later + timedelta(hours=1), base_url=BASE
    )
    assert t.status == "appealed"
    assert t.appealed_at is not None
    appeal_promise = next(
        p for p in planning.pending_promises(session, t.id) if p.kind == "appeal_resolution"
    )
    assert appeal_promise.due_at > later
    note = session.scalar(select(Notification).where(Notification.kind == "appeal_received"))
    assert note is not None
    assert t.number in note.body
    with pytest.raises(InvalidInput):
        handling.appeal(session, t, "otra vez", now=later, base_url=BASE)


def test_escalation_and_breach_jobs_flag_the_promise_and_the_customer(
    session: Session, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    make_org(session)
    fault = opening.open_ticket(
        session,
        opening.Intake(channel="voice", kind="fault", description="Sin agua", phone="600111333"),
        now=START,
        base_url=BASE,
    ).ticket
    session.commit()
    first = next(p for p in planning.promises_of(session, fault.id) if p.kind == "first_response")
    assert first.escalate_at is not None
    assert START < first.escalate_at < first.due_at
    clock = FrozenClock(first.escalate_at + timedelta(seconds=1))
    run_due(session_factory, settings, clock)
    session.expire_all()
    assert session.get(Promise, first.id).escalated_at is not None  # type: ignore[union-attr]
    clock.set(first.due_at + timedelta(seconds=5))
    run_due(session_factory, settings, clock)
    session.expire_all()
    assert session.get(Promise, first.id).state == "broken"  # type: ignore[union-attr]
    t = session.get(Ticket, fault.id)
    assert t is not None
    assert t.follow_up_reason == "broken promise: first_response"
    codes = [m.subject for m in service.thread(session, t.id) if m.author_kind == "system"]
    assert "promise_at_risk" in codes
    assert "promise_broken" in codes


def test_an_unrepaired_fault_becomes_a_complaint_with_the_same_number(
    session: Session, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    o = make_org(
        session, profile="pe-osiptel", country="PE", subdivision=None, timezone="America/Lima"
    )
    fault = opening.open_ticket(
        session,
        opening.Intake(
            channel="voice", kind="fault", description="Sin señal", phone="+51987654321"
        ),
        now=START,
        base_url=BASE,
    ).ticket
    session.commit()
    repair = next(p for p in planning.promises_of(session, fault.id) if p.kind == "repair")
    assert repair.due_at == START + timedelta(days=1)
    run_due(session_factory, settings, FrozenClock(repair.due_at + timedelta(minutes=1)))
    session.expire_all()
    t = session.get(Ticket, fault.id)
    assert t is not None
    assert t.kind == "complaint"
    assert t.topic == "quality"
    assert t.number == fault.number
    assert t.team_id == o.complaints.id
    pending = {p.kind for p in planning.pending_promises(session, t.id)}
    assert "resolution" in pending


def test_the_inbox_is_ordered_by_the_next_promise_and_filters(session: Session) -> None:
    o = make_org(session)
    complaint = _complaint(session).ticket
    query = opening.open_ticket(
        session,
        opening.Intake(channel="voice", kind="query", description="Horario", phone="600000001"),
        now=START,
        base_url=BASE,
    ).ticket
    rows = service.inbox(session, now=START)
    assert [r.ticket.id for r in rows] == [query.id, complaint.id]  # query due today first
    first_due, second_due = rows[0].next_due, rows[1].next_due
    assert first_due is not None
    assert second_due is not None
    assert first_due <= second_due
    assert [r.ticket.id for r in service.inbox(session, now=START, kind="complaint")] == [
        complaint.id
    ]
    assert service.inbox(session, now=START, team_id=o.faults.id) == []
    late = START + timedelta(hours=9, minutes=30)  # 19:30 Madrid: the query is due at 20:00
    risky = service.inbox(session, now=late, at_risk=True)
    assert query.id in [r.ticket.id for r in risky]
    assert all(r.at_risk for r in risky)


def test_the_customer_lookup_gives_nothing_for_an_unknown_number_or_a_wrong_code(
    session: Session,
) -> None:
    make_org(session)
    t: Ticket = _complaint(session).ticket
    assert status_page.find_for_customer(session, t.number, t.verification_code) is t
    spaced = " ".join(t.number.replace("-", ""))
    assert status_page.find_for_customer(session, spaced, t.verification_code.lower()) is t
    assert status_page.find_for_customer(session, t.number, "WRONG1") is None
    assert status_page.find_for_customer(session, "2026-0999999-0", t.verification_code) is None
    assert status_page.find_for_customer(session, "nonsense", "") is None


def test_the_complaints_register_lists_deadlines_resolutions_and_notifications(
    session: Session,
) -> None:
    make_org(session)
    agent = make_agent(session)
    a = _complaint(session).ticket
    b = _complaint(session, "Trato grosero", channel="voice", email="b@e.es").ticket
    opening.open_ticket(
        session,
        opening.Intake(channel="web", kind="query", description="Horario", email="c@e.es"),
        now=START,
        base_url=BASE,
    )
    handling.resolve(
        session, a, "Abonado.", user=agent, now=START + timedelta(days=1), base_url=BASE
    )
    rows = reporting.complaints_register(
        session, start=START - timedelta(days=1), end=START + timedelta(days=1)
    )
    assert [r["code"] for r in rows] == [a.number, b.number]
    assert rows[0]["resolution"] == "Abonado."
    assert rows[0]["notified_at"]
    assert rows[1]["channel"] == "voice"
    assert rows[1]["deadline"]
    assert not rows[1]["resolved_at"]
    text = reporting.register_csv(rows)
    assert text.splitlines()[0].split(",")[:3] == ["code", "received_at", "channel"]
    assert len(text.splitlines()) == 3


def test_every_change_is_in_the_audit_trail(session: Session) -> None:
    o = make_org(session)
    agent = make_agent(session)
    t = _complaint(session).ticket
    handling.add_note(session, t, "nota", user=agent, now=START)
    handling.reassign(session, t, user=agent, now=START, team_id=o.care.id, assignee_id=agent.id)
    handling.change_status(session, t, "waiting_customer", user=agent, now=START)
    handling.add_customer_message(session, t, "más datos", now=START, channel="web")
    actions = [e.action for e in audit.events_for(session, "ticket", t.id)]
    assert actions == [
        "ticket.created",
        "ticket.noted",
        "ticket.reassigned",
        "ticket.status",
        "ticket.customer_wrote",
    ]
    assert t.status == "open"
    assert audit.verify(session).ok
    assert all(p.team == str(o.care.id) for p in planning.pending_promises(session, t.id))
    msgs = session.scalars(select(TicketMessage).where(TicketMessage.ticket_id == t.id)).all()
    assert any(m.subject == "reassigned" for m in msgs)
