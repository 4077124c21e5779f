"""The team's ticket screens: inbox, ticket page, supervisor's promises (P1-P6, M4)."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from escucha.auth.models import User
from escucha.clock import FrozenClock
from escucha.config import Settings
from escucha.jobs.service import run_due
from escucha.notifications.models import Notification
from escucha.org.models import AgentProfile
from escucha.promises.models import Promise
from escucha.tickets import opening, planning, service
from escucha.tickets.models import Ticket, TicketAttachment
from tests.conftest import START, csrf_from, login
from tests.factories import make_org, make_user

BASE = "http://testserver"


def _open(session: Session, **kw: str) -> Ticket:
    intake = opening.Intake(
        channel=kw.pop("channel", "web"),
        description=kw.pop("description", "Me han cobrado dos veces"),
        email=kw.pop("email", "rosa@example.es"),
        kind=kw.pop("kind", "complaint"),
        **kw,
    )
    return opening.open_ticket(session, intake, now=START, base_url=BASE).ticket


def _join(session: Session, team_id: int) -> None:
    """Marta works in that team: an agent reaches her team's tickets (ADR 17)."""
    marta = session.scalar(select(User).where(User.username == "marta"))
    assert marta is not None
    session.add(AgentProfile(user_id=marta.id, team_id=team_id))


def _opened_by_marta(session: Session, ticket: Ticket) -> None:
    marta = session.scalar(select(User).where(User.username == "marta"))
    assert marta is not None
    ticket.created_by_id = marta.id


@pytest.fixture
def agent_client(client: TestClient, session: Session) -> TestClient:
    make_user(session, username="marta", role="agent", display_name="Marta Ruiz")
    session.commit()
    assert login(client, "marta", "correct-horse-battery").status_code == 303
    return client


def test_the_inbox_lists_by_next_promise_and_filters(
    agent_client: TestClient, session: Session
) -> None:
    o = make_org(session)
    complaint = _open(session)
    query = _open(session, kind="query", channel="voice", email="", phone="600123123")
    _join(session, o.complaints.id)
    _opened_by_marta(session, query)
    session.commit()
    page = agent_client.get("/tickets")
    assert page.status_code == 200
    assert page.text.index(query.number) < page.text.index(complaint.number)
    assert "Reclamación" in page.text
    only = agent_client.get("/tickets?kind=complaint")
    assert complaint.number in only.text
    assert query.number not in only.text
    team = agent_client.get(f"/tickets?team={o.faults.id}")
    assert "Ningún caso coincide." in team.text
    found = agent_client.get(f"/tickets/find?number={query.number}", follow_redirects=False)
    assert found.headers["location"] == f"/tickets/{query.id}"


def test_an_agent_answers_from_the_ticket_and_sees_the_delivery(
    agent_client: TestClient,
    session: Session,
    session_factory: sessionmaker[Session],
    settings: Settings,
    clock: FrozenClock,
) -> None:
    o = make_org(session)
    t = _open(session)
    _join(session, o.complaints.id)
    session.commit()
    page = agent_client.get(f"/tickets/{t.id}")
    assert page.status_code == 200
    assert t.number in page.text
    assert t.verification_code in page.text
    csrf = csrf_from(page.text)
    opened_at = re.search(r'name="opened_at" value="([^"]+)"', page.text)
    assert opened_at
    vague = agent_client.post(
        f"/tickets/{t.id}/reply",
        data={"csrf_token": csrf, "body": "Lo vemos lo antes posible", "channel": "email"},
    )
    assert vague.status_code == 422
    assert "lo antes posible" in vague.text
    clock.advance(timedelta(minutes=7))
    sent = agent_client.post(
        f"/tickets/{t.id}/reply",
        data={
            "csrf_token": csrf,
            "body": "Le devolvemos 30 € el viernes 27.",
            "channel": "email",
            "opened_at": opened_at.group(1),
        },
        follow_redirects=False,
    )
    assert sent.status_code == 303
    session.expire_all()
    reply = service.thread(session, t.id)[-1]
    assert reply.author_kind == "agent"
    assert reply.work_s == pytest.approx(420.0)  # the time the reply took, for the estimate
    first = next(p for p in planning.promises_of(session, t.id) if p.kind == "first_response")
    assert first.state == "kept"
    page = agent_client.get(f"/tickets/{t.id}")
    assert 'data-delivery="pending"' in page.text
    assert "Cumplida" in page.text
    run_due(session_factory, settings, clock)  # the file sender delivers
    page = agent_client.get(f"/tickets/{t.id}")
    assert 'data-delivery="sent"' in page.text
    assert 'data-delivery="pending"' not in page.text


def test_notes_reassignment_and_a_new_promised_time_with_its_reason(
    agent_client: TestClient, session: Session
) -> None:
    o = make_org(session)
    t = _open(session)
    _opened_by_marta(session, t)  # she keeps it after handing it to another team
    session.commit()
    csrf = csrf_from(agent_client.get(f"/tickets/{t.id}").text)
    agent_client.post(f"/tickets/{t.id}/note", data={"csrf_token": csrf, "body": "Pedir extracto"})
    agent_client.post(f"/tickets/{t.id}/assign", data={"csrf_token": csrf, "team_id": o.care.id})
    resolution = session.scalar(
        select(Promise).where(Promise.ticket_id == t.id, Promise.kind == "resolution")
    )
    assert resolution is not None
    r = agent_client.post(
        f"/tickets/{t.id}/promises/{resolution.id}/reschedule",
        data={"csrf_token": csrf, "due": "2026-12-18T13:30", "reason": "esperamos al banco"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    session.expire_all()
    ticket = session.get(Ticket, t.id)
    assert ticket is not None
    assert ticket.team_id == o.care.id
    pending = [p for p in planning.pending_promises(session, t.id) if p.kind == "resolution"]
    assert [p.due_at.isoformat() for p in pending] == ["2026-12-18T12:30:00+00:00"]  # Madrid
    told = session.scalar(select(Notification).where(Notification.kind == "promise_changed"))
    assert told is not None
    assert "esperamos al banco" in told.body
    page = agent_client.get(f"/tickets/{t.id}")
    assert "Pedir extracto" in page.text
    assert "esperamos al banco" in page.text


def test_a_fault_that_reads_like_a_complaint_is_flagged_and_converted(
    agent_client: TestClient, session: Session
) -> None:
    o = make_org(session)
    t = _open(session, kind="fault", description="Es una vergüenza, me cobraron de más")
    _join(session, o.faults.id)
    session.commit()
    page = agent_client.get(f"/tickets/{t.id}")
    assert "Esto parece una reclamación." in page.text
    r = agent_client.post(
        f"/tickets/{t.id}/kind",
        data={"csrf_token": csrf_from(page.text), "kind": "complaint"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    session.expire_all()
    ticket = session.get(Ticket, t.id)
    assert ticket is not None
    assert ticket.kind == "complaint"
    assert ticket.team_id == o.complaints.id
    assert ticket.number == t.number
    pending = [p.kind for p in planning.pending_promises(session, t.id)]
    assert pending.count("first_response") == 1  # the fault's was replaced, not doubled
    assert pending.count("resolution") == 1


def test_attachments_download_as_files(agent_client: TestClient, session: Session) -> None:
    t = _open(session)
    _opened_by_marta(session, t)
    att = TicketAttachment(
        ticket_id=t.id,
        filename="<script>.html",
        content_type="text/html",
        size_bytes=5,
        sha256="0" * 64,
        data=b"<b>x",
        created_at=START,
    )
    session.add(att)
    session.commit()
    r = agent_client.get(f"/tickets/{t.id}/attachments/{att.id}")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/octet-stream"
    assert r.headers["content-disposition"] == 'attachment; filename="_script_.html"'
    assert agent_client.get(f"/tickets/{t.id + 1}/attachments/{att.id}").status_code == 404


def test_supervisors_see_promises_at_risk_and_broken_by_team(
    client: TestClient,
    session: Session,
    session_factory: sessionmaker[Session],
    settings: Settings,
) -> None:
    o = make_org(session)
    make_user(session, username="sofia", role="supervisor")
    make_user(session, username="luis", role="agent")
    fault = _open(session, kind="fault", channel="voice", email="", phone="600999888")
    session.commit()
    first = next(p for p in planning.promises_of(session, fault.id) if p.kind == "first_response")
    run_due(session_factory, settings, FrozenClock(first.due_at + timedelta(seconds=5)))
    assert login(client, "luis", "correct-horse-battery").status_code == 303
    assert client.get("/promises", headers={"accept": "application/json"}).status_code == 403
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/tickets").text)})
    assert login(client, "sofia", "correct-horse-battery").status_code == 303
    page = client.get("/promises")
    assert page.status_code == 200
    assert o.faults.display_name in page.text
    assert fault.number in page.text
    assert "Clientes a los que hacer seguimiento" in page.text
    assert "Promesa incumplida" in page.text
    rates = page.text[page.text.index('id="rates"') :]
    assert "Averías" in rates
    done = client.post(
        f"/tickets/{fault.id}/follow-up/done",
        data={"csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    assert done.status_code == 303
    session.expire_all()
    ticket = session.get(Ticket, fault.id)
    assert ticket is not None
    assert ticket.follow_up_reason is None


def test_the_inbox_query_count_does_not_grow_with_the_tickets(session: Session) -> None:
    make_org(session)
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    def measure() -> int:
        statements.clear()
        event.listen(session.get_bind(), "before_cursor_execute", count)
        try:
            service.inbox(session, now=START)
        finally:
            event.remove(session.get_bind(), "before_cursor_execute", count)
        return len(statements)

    for i in range(2):
        _open(session, email=f"a{i}@e.es")
    few = measure()
    for i in range(10):
        _open(session, email=f"b{i}@e.es", kind="query")
    assert measure() == few


def test_an_attachment_with_a_non_ascii_name_downloads_with_its_name(
    agent_client: TestClient, session: Session
) -> None:
    """Finding 12: ``文件.pdf`` used to fail with a 500 (a header must be Latin-1)."""
    t = _open(session)
    _opened_by_marta(session, t)  # an agent reaches the tickets she opened (ADR 17)
    att = TicketAttachment(
        ticket_id=t.id,
        filename="文件 de María.pdf",
        content_type="application/pdf",
        size_bytes=4,
        sha256="0" * 64,
        data=b"%PDF",
        created_at=START,
    )
    session.add(att)
    session.commit()
    r = agent_client.get(f"/tickets/{t.id}/attachments/{att.id}")
    assert r.status_code == 200
    assert r.content == b"%PDF"
    header = r.headers["content-disposition"]
    assert header.startswith('attachment; filename="')
    assert 'filename="___de_Mar_a.pdf"' in header  # the ASCII fallback
    encoded = re.search(r"filename\*=UTF-8''([^;\s]+)", header)
    assert encoded
    assert unquote(encoded.group(1)) == "文件 de María.pdf"
