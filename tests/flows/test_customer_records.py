"""Customer records: identification by any known phone or email, edits, search, merge, reach,
and the data protection rights (export, erasure), ADR 27."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha.audit import service as audit
from escucha.audit.models import AuditEvent
from escucha.contacts import customers
from escucha.contacts import service as contacts
from escucha.contacts.models import Contact, ContactEvent, Customer, CustomerPoint
from escucha.errors import Conflict, Forbidden
from escucha.flows import customers as records
from escucha.org.models import AgentProfile
from escucha.promises.models import Promise
from escucha.tickets import service as tickets
from escucha.tickets.models import Ticket, TicketAttachment, TicketMessage
from tests.conftest import START
from tests.factories import make_agent, make_customer, make_ended_contact, make_org, make_ticket

ACTOR = "user:1:sara"


def _events(session: Session, action: str) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_a_customer_is_found_by_any_of_their_phones_and_emails(session: Session) -> None:
    make_org(session)
    rosa = make_customer(session, phone="+34600111222", email="rosa@example.es", name="Rosa")
    customers.add_point(session, rosa, "phone", "611 222 333", now=START, actor=ACTOR)
    customers.add_point(session, rosa, "email", " Rosa.Trabajo@Example.ES ", now=START, actor=ACTOR)
    by_phone = contacts.find_or_create_customer(
        session, now=START, phone="+34611222333", verified=True
    )
    assert by_phone.id == rosa.id
    ticket = make_ticket(session, channel="email", email="rosa.trabajo@example.es")
    assert ticket.customer_id == rosa.id
    assert session.scalar(select(Customer.id).where(Customer.id != rosa.id)) is None
    # a new caller gets a record of their own with a verified point
    other = contacts.find_or_create_customer(
        session, now=START, phone="+34699000111", verified=True
    )
    assert other.id != rosa.id
    (point,) = customers.points_of(session, other.id)
    assert (point.kind, point.value, point.verified) == ("phone", "+34699000111", True)


def test_a_point_belongs_to_one_customer_and_can_be_preferred_or_removed(
    session: Session,
) -> None:
    rosa = make_customer(session, phone="+34600111222", name="Rosa")
    luis = make_customer(session, phone="+34600333444", name="Luis")
    with pytest.raises(Conflict, match="merge"):
        customers.add_point(session, luis, "phone", "+34600111222", now=START, actor=ACTOR)
    second = customers.add_point(session, rosa, "phone", "+34611000000", now=START, actor=ACTOR)
    assert not second.verified
    customers.prefer_point(session, rosa, second.id, now=START, actor=ACTOR)
    assert rosa.phone == "+34611000000"
    customers.remove_point(session, rosa, second.id, now=START, actor=ACTOR)
    assert rosa.phone == "+34600111222"
    assert [p.value for p in customers.points_of(session, rosa.id)] == ["+34600111222"]


def test_edits_are_audited_by_field_name_never_by_value(session: Session) -> None:
    rosa = make_customer(session, name="")
    details = customers.Details("Rosa  Pérez", "en", True, False, "Prefiere mañanas")
    changed = customers.update(session, rosa, details, now=START, actor=ACTOR)
    assert set(changed) == {"name", "language", "consent_sms", "notes"}
    assert rosa.name == "Rosa Pérez"
    (event,) = _events(session, "customer.updated")
    assert set(event.data["fields"]) == set(changed)
    assert "Pérez" not in str(event.data)
    assert customers.update(session, rosa, details, now=START, actor=ACTOR) == []
    with pytest.raises(Exception, match="language"):
        customers.update(
            session, rosa, customers.Details("x", "fr", False, False, ""), now=START, actor=ACTOR
        )


def test_search_by_name_phone_digits_or_email(session: Session) -> None:
    rosa = make_customer(session, phone="+34600111222", email="rosa@example.es", name="Rosa Pérez")
    make_customer(session, phone="+34699999999", name="Luis Gil")
    assert [c.id for c in customers.search(session, "pérez")] == [rosa.id]
    assert [c.id for c in customers.search(session, "600 111 222")] == [rosa.id]
    assert [c.id for c in customers.search(session, "ROSA@example")] == [rosa.id]
    assert customers.search(session, "nadie") == []
    assert customers.search(session, "100%_") == []


def _history(session: Session, agent_id: int, customer: Customer) -> tuple[Contact, Ticket]:
    contact = make_ended_contact(session, agent_id=agent_id, customer=customer)
    contact.recap = f"Llamó {customer.name} desde {customer.phone}"
    ticket = make_ticket(
        session,
        kind="complaint",
        email=customer.email,
        name=customer.name,
        description=(
            f"Soy {customer.name}, mi teléfono es {customer.phone} y mi correo "
            f"{customer.email}. Me cobraron dos veces. " + "Detalle. " * 700
        ),
    )
    return contact, ticket


def test_merge_moves_everything_and_is_audited(session: Session) -> None:
    make_org(session)
    agent = make_agent(session)
    keep = make_customer(session, phone="+34600111222", email=None, name="Rosa")
    drop = make_customer(session, phone="+34600333444", email="rosa@example.es", name="Rosa P.")
    drop.notes = "Cliente desde 2010"
    contact, ticket = _history(session, agent.id, drop)
    moved = records.merge(session, keep, drop, now=START, actor=ACTOR)
    assert moved["contacts"] == 1
    assert moved["tickets"] == 1
    session.refresh(contact)
    session.refresh(ticket)
    assert contact.customer_id == ticket.customer_id == keep.id
    assert session.scalar(select(Promise.customer_id).where(Promise.ticket_id == ticket.id)) == (
        keep.id
    )
    values = {p.value for p in customers.points_of(session, keep.id)}
    assert values == {"+34600111222", "+34600333444", "rosa@example.es"}
    assert keep.email == "rosa@example.es"
    assert keep.name == "Rosa"
    assert "Cliente desde 2010" in keep.notes
    assert drop.merged_into_id == keep.id
    assert records.merged_target(session, drop).id == keep.id
    # the next call from the merged number reaches the record kept
    again = contacts.find_or_create_customer(session, now=START, phone="+34600333444")
    assert again.id == keep.id
    (event,) = _events(session, "customer.merged")
    assert event.data["kept"] == keep.id
    assert event.data["merged"] == drop.id
    with pytest.raises(Conflict):
        records.merge(session, keep, drop, now=START, actor=ACTOR)
    assert audit.verify(session).ok


def test_export_holds_the_customers_data_and_is_audited(session: Session) -> None:
    make_org(session)
    agent = make_agent(session)
    rosa = make_customer(session, phone="+34600111222", email="rosa@example.es", name="Rosa")
    _contact, ticket = _history(session, agent.id, rosa)
    data = records.export(session, rosa, now=START, actor=ACTOR)
    assert data["customer"]["name"] == "Rosa"
    assert {p["value"] for p in data["contact_points"]} == {"+34600111222", "rosa@example.es"}
    assert data["cases"][0]["number"] == ticket.number
    assert data["cases"][0]["files"][0]["filename"] == tickets.FULL_TEXT_FILE
    assert "Rosa" in data["contacts"][0]["recap"]
    assert data["promises"]
    (event,) = _events(session, "customer.exported")
    assert event.subject_id == rosa.id
    assert "Rosa" not in str(event.data)


def test_erasure_keeps_complaints_anonymised_and_removes_the_rest(
    session: Session, tmp_path: Path
) -> None:
    make_org(session)
    agent = make_agent(session)
    rosa = make_customer(
        session, phone="+34600111222", email="rosa@example.es", name="Rosalinda Pérez"
    )
    rosa.notes = "Vive en la calle Mayor"
    contact, complaint = _history(session, agent.id, rosa)
    session.add(
        ContactEvent(
            contact_id=contact.id,
            event="transferred",
            at=START,
            data={"to": "averias", "note": "Rosalinda vive en la calle Mayor"},
        )
    )
    query = make_ticket(
        session, kind="query", email="rosa@example.es", description="¿Cuándo pasa el técnico?"
    )
    session.add(
        TicketAttachment(
            ticket_id=complaint.id,
            filename="factura.pdf",
            content_type="application/pdf",
            size_bytes=5,
            sha256="0" * 64,
            data=b"%PDF-",
            created_at=START,
        )
    )
    session.flush()
    done = records.erase(session, rosa, now=START, actor=ACTOR, recordings_dir=tmp_path)
    session.expire_all()
    erased = session.get(Customer, rosa.id)
    assert erased is not None
    assert (erased.name, erased.phone, erased.email, erased.notes) == ("", None, None, "")
    assert erased.erased_at is not None
    assert session.scalar(select(CustomerPoint).where(CustomerPoint.customer_id == rosa.id)) is None
    kept = session.get(Ticket, complaint.id)
    assert kept is not None
    assert kept.number == complaint.number
    assert kept.created_at == complaint.created_at
    assert done.kept_complaints == [complaint.number]
    for text in (kept.description, kept.subject):
        assert "Rosalinda" not in text
        assert "600111222" not in text
        assert "rosa@example.es" not in text
    assert "Me cobraron dos veces" in kept.description
    files = session.scalars(
        select(TicketAttachment).where(TicketAttachment.ticket_id == complaint.id)
    ).all()
    assert [f.filename for f in files] == [tickets.FULL_TEXT_FILE]
    whole = files[0].data.decode()
    assert "Me cobraron dos veces" in whole
    assert "Rosalinda" not in whole
    assert "rosa@example.es" not in whole
    other = session.get(Ticket, query.id)
    assert other is not None
    assert other.description == ""
    bodies = session.scalars(
        select(TicketMessage.body).where(TicketMessage.ticket_id.in_([complaint.id, query.id]))
    ).all()
    assert not any("Rosalinda" in b or "rosa@example.es" in b for b in bodies)
    erased_contact = session.get(Contact, contact.id)
    assert erased_contact is not None
    assert "Rosalinda" not in (erased_contact.recap or "")
    note = session.scalar(
        select(ContactEvent.data).where(
            ContactEvent.contact_id == contact.id, ContactEvent.event == "transferred"
        )
    )
    assert note == {"to": "averias", "note": ""}
    (event,) = _events(session, "customer.erased")
    assert event.data["kept_complaints"] == [complaint.number]
    assert "Rosalinda" not in str(event.data)
    with pytest.raises(Conflict):
        records.erase(session, erased, now=START, actor=ACTOR, recordings_dir=tmp_path)
    assert audit.verify(session).ok


def test_an_agent_reaches_the_customers_of_their_contacts_and_team_cases(
    session: Session,
) -> None:
    o = make_org(session)
    mine = make_agent(session, o.complaints)
    stranger = make_agent(session, o.faults)
    boss = make_agent(session, role="supervisor")
    rosa = make_customer(session, name="Rosa")
    make_ended_contact(session, agent_id=mine.id, customer=rosa, queue="nowhere")
    luis = make_customer(session, name="Luis", email="luis@example.es")
    make_ticket(session, kind="complaint", email="luis@example.es")
    session.flush()
    assert records.can_reach(session, mine, rosa.id)
    assert records.can_reach(session, mine, luis.id)  # a complaint of their team
    assert not records.can_reach(session, stranger, rosa.id)
    assert records.can_reach(session, boss, rosa.id)
    with pytest.raises(Forbidden):
        records.check_reach(session, stranger, luis.id)
    assert session.scalar(select(AgentProfile.team_id).where(AgentProfile.user_id == mine.id))
