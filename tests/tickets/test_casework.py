"""Case work: full-text search, saved views, tags, canned replies, merges, bulk actions and the
activity feed, on the real database (SQLite, or PostgreSQL with ESCUCHA_TEST_DATABASE_URL)."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha.audit import service as audit
from escucha.config import Settings
from escucha.errors import Forbidden, InvalidInput
from escucha.notifications.models import Notification
from escucha.org.models import AgentProfile
from escucha.org.reach import reach_of
from escucha.promises.models import Promise
from escucha.tickets import (
    bulk,
    feed,
    handling,
    merge,
    planning,
    replies,
    service,
    status_page,
    tags,
    views,
)
from escucha.tickets.email import receive_email
from escucha.tickets.models import Ticket
from escucha.tickets.search import search
from tests.factories import (
    BASE_URL,
    START,
    make_canned_reply,
    make_customer,
    make_org,
    make_person,
    make_ticket,
)


def _found(session: Session, query: str) -> list[int]:
    return [h.ticket_id for h in search(session, query)]


# --- search ---------------------------------------------------------------------------------------


def test_search_finds_a_case_by_a_word_in_any_form(session: Session) -> None:
    make_org(session)
    water = make_ticket(session, description="Tengo una fuga de agua en la cocina desde ayer")
    bill = make_ticket(session, description="Me han cobrado dos veces la factura de octubre")
    english = make_ticket(
        session, description="You charged my card twice this month", email="ann@example.com"
    )
    session.commit()
    assert _found(session, "fuga") == [water.id]
    assert _found(session, "cobros") == [bill.id]  # cobrado, cobros: one stem
    assert _found(session, "facturas octubre") == [bill.id]
    assert _found(session, "charges") == [english.id]  # charged, charges: one stem
    assert _found(session, "") == []
    assert _found(session, "lavadora") == []


def test_search_finds_messages_and_customers_and_ranks_the_better_match_first(
    session: Session,
) -> None:
    make_org(session)
    rosa = make_customer(session, name="Rosa Martínez Solé", email="rosa.m@example.es")
    once = make_ticket(session, description="Corte de suministro en la calle", email=None)
    once.customer_id = rosa.id
    many = make_ticket(
        session, subject="Corte de luz", description="Otro corte; el tercer corte esta semana"
    )
    other = make_ticket(session, description="Consulta de tarifa")
    handling.add_customer_message(
        session, other, "El contador hace un ruido extraño", now=START, channel="email"
    )
    session.commit()
    assert _found(session, "martinez") == [once.id]  # the customer's name, without its accent
    assert _found(session, "rosa.m@example.es") == [once.id]
    assert _found(session, "contador ruido") == [other.id]  # a word of the thread
    ranked = _found(session, "corte")
    assert ranked[:2] == [many.id, once.id]
    assert {h.via for h in search(session, "martínez")} == {"customer"}
    assert _found(session, "martinez suministro") == [once.id]  # customer and case text
    assert _found(session, "martinez tarifa") == []


def test_the_index_follows_every_change(session: Session) -> None:
    make_org(session)
    t = make_ticket(session, subject="Caldera", description="Pierde presión")
    session.commit()
    assert _found(session, "caldera") == [t.id]
    t.subject = "Termo"
    session.commit()
    assert _found(session, "caldera") == []
    assert _found(session, "termo") == [t.id]
    note = handling.add_note(
        session, t, "Llamar al fontanero", user=make_person(session, "ana"), now=START
    )
    session.commit()
    assert _found(session, "fontanero") == [t.id]
    session.delete(note)
    session.commit()
    assert _found(session, "fontanero") == []


def test_search_and_views_keep_to_the_agents_reach(session: Session) -> None:
    make_org(session)
    mine = make_ticket(session, description="Avería en el contador", kind="fault")
    theirs = make_ticket(session, description="Avería en el contador del vecino", kind="complaint")
    agent = make_person(session, "pilar")
    session.add(AgentProfile(user_id=agent.id, team_id=mine.team_id))
    session.flush()
    assert mine.team_id != theirs.team_id
    session.commit()
    f = views.Filters(q="averías")
    seen = views.run(session, f, now=START, user_id=agent.id, reach=reach_of(session, agent))
    assert [r.ticket.id for r in seen] == [mine.id]
    assert views.count(session, f, now=START, user_id=agent.id, reach=None) == 2


# --- views and tags -------------------------------------------------------------------------------


def test_views_filter_by_tags_priority_assignee_and_count_live(session: Session) -> None:
    make_org(session)
    ana = make_person(session, "ana")
    a = make_ticket(session, description="uno")
    b = make_ticket(session, description="dos")
    tags.add(session, a, " Facturación  Duplicada ", user=ana, now=START)
    tags.set_priority(session, b, "urgent", user=ana, now=START)
    handling.reassign(session, b, user=ana, now=START, assignee_id=ana.id)
    session.commit()
    assert tags.tags_of(session, [a.id]) == {a.id: ["facturación-duplicada"]}

    def ids(**kw: object) -> list[int]:
        f = views.Filters.from_mapping(kw)
        return [r.ticket.id for r in views.run(session, f, now=START, user_id=ana.id, reach=None)]

    assert ids(tag="facturación-duplicada") == [a.id]
    assert ids(priority="urgent") == [b.id]
    assert ids(assignee="me") == [b.id]
    assert ids(assignee="none") == [a.id]
    saved = views.save_view(
        session, ana, "Urgentes", views.Filters(priority="urgent"), shared=False, now=START
    )
    counted = {v.key: v.count for v in views.with_counts(session, ana, now=START, reach=None)}
    assert counted[str(saved.id)] == 1
    tags.set_priority(session, a, "urgent", user=ana, now=START)
    counted = {v.key: v.count for v in views.with_counts(session, ana, now=START, reach=None)}
    assert counted[str(saved.id)] == 2  # live: counted when shown
    with pytest.raises(Forbidden):
        views.save_view(session, ana, "Para todos", views.Filters(), shared=True, now=START)
    other = make_person(session, "otro")
    assert saved not in views.visible_views(session, other)
    with pytest.raises(Forbidden):
        views.delete_view(session, other, saved.id, now=START)


def test_tags_are_checked_removed_and_audited(session: Session) -> None:
    make_org(session)
    t = make_ticket(session)
    for bad in ("", "dos; tres", "x" * 41):
        with pytest.raises(InvalidInput):
            tags.add(session, t, bad, user=None, now=START)
    tags.add(session, t, "fibra", user=None, now=START)
    tags.add(session, t, "FIBRA", user=None, now=START)  # the same tag once
    assert tags.tags_of(session, [t.id]) == {t.id: ["fibra"]}
    tags.remove(session, t, "fibra", user=None, now=START)
    assert tags.tags_of(session, [t.id]) == {}
    actions = [e.action for e in audit.events_for(session, "ticket", t.id)]
    assert actions.count("ticket.tagged") == 1
    assert actions.count("ticket.untagged") == 1


# --- canned replies -------------------------------------------------------------------------------


def test_a_canned_reply_fills_its_placeholders_in_its_language(session: Session) -> None:
    make_org(session)
    t = make_ticket(session, name="Rosa Pérez", kind="complaint")
    es = make_canned_reply(session)
    en = make_canned_reply(
        session,
        title="Ack",
        language="en",
        body="Dear {customer_name}, case {case_number}: "
        "you will hear from us {promised_time}. {agent_name}",
    )
    due = planning.next_promise(session, t.id)
    assert due is not None
    text = replies.fill(session, es, t, agent_name="Ana", now=START)
    assert text.startswith(f"Hola Rosa Pérez: su caso {t.number} tendrá respuesta ")
    assert "{" not in text
    english = replies.fill(session, en, t, agent_name="Ana Gil", now=START)
    assert english.endswith("Ana Gil")
    assert "Dear Rosa Pérez" in english
    assert " on " in english or "tomorrow" in english or "today" in english
    listed = replies.for_ticket(session, t, agent_name="Ana", now=START)
    assert [r.language for r in listed] == ["es", "en"]  # the customer's language first


def test_a_canned_reply_with_an_unknown_placeholder_is_refused(session: Session) -> None:
    with pytest.raises(InvalidInput, match=r"unknown placeholder \{numero\}"):
        make_canned_reply(session, body="Su caso {numero}")
    make_canned_reply(session)
    with pytest.raises(InvalidInput, match="exists"):
        make_canned_reply(session)


# --- merge ----------------------------------------------------------------------------------------


def test_a_merge_moves_the_thread_and_promises_and_both_numbers_lead_to_the_survivor(
    session: Session,
) -> None:
    make_org(session)
    agent = make_person(session, "ana")
    keep = make_ticket(session, description="Sin agua desde el lunes", kind="fault")
    dup = make_ticket(session, description="Sigo sin agua en casa", kind="complaint")
    handling.add_customer_message(session, dup, "¿Cuándo vuelve el agua?", now=START, channel="web")
    tags.add(session, dup, "sin-agua", user=agent, now=START)
    pending_before = len(planning.pending_promises(session, dup.id))
    session.commit()
    merge.merge(session, keep, dup, user=agent, now=START + timedelta(minutes=5))
    session.commit()
    bodies = [m.body for m in service.thread(session, keep.id)]
    assert "¿Cuándo vuelve el agua?" in bodies
    assert tags.tags_of(session, [keep.id]) == {keep.id: ["sin-agua"]}
    assert planning.pending_promises(session, dup.id) == []
    moved = session.scalars(select(Promise).where(Promise.ticket_id == keep.id)).all()
    assert pending_before
    assert any(p.kind == "resolution" for p in moved)
    found = status_page.find_for_customer(session, dup.number, dup.verification_code)
    assert found is not None
    assert merge.surviving(session, found).id == keep.id
    assert _found(session, "vuelve agua") == [keep.id]  # the moved message is searched there
    listed = views.run(session, views.Filters(), now=START, user_id=agent.id, reach=None)
    assert [r.ticket.id for r in listed] == [keep.id]  # the absorbed case leaves the list
    assert [r.ticket.id for r in service.inbox(session, now=START)] == [keep.id]  # and the API's
    assert "ticket.merged_from" in [e.action for e in audit.events_for(session, "ticket", keep.id)]
    assert "ticket.merged_into" in [e.action for e in audit.events_for(session, "ticket", dup.id)]
    with pytest.raises(InvalidInput, match="already merged"):
        merge.merge(session, keep, dup, user=agent, now=START)
    with pytest.raises(InvalidInput, match="itself"):
        merge.merge(session, keep, keep, user=agent, now=START)


# --- bulk -----------------------------------------------------------------------------------------


def test_bulk_reschedule_tells_each_customer_and_records_the_reason(session: Session) -> None:
    make_org(session)
    sup = make_person(session, "sara", role="supervisor")
    a = make_ticket(session, email="a@example.es", kind="fault")
    b = make_ticket(session, email="b@example.es", kind="fault")
    session.commit()
    chosen = bulk.load(session, [a.id, b.id], reach_of(session, sup))
    new_due = START + timedelta(days=3)
    done = bulk.reschedule(
        session,
        chosen,
        new_due,
        reason="Corte general en la zona norte",
        user=sup,
        now=START + timedelta(minutes=1),
        base_url=BASE_URL,
    )
    session.commit()
    assert sorted(done.moved) == sorted([a.number, b.number])
    for t, address in ((a, "a@example.es"), (b, "b@example.es")):
        told = session.scalars(
            select(Notification).where(
                Notification.ticket_id == t.id, Notification.kind == "promise_changed"
            )
        ).all()
        assert [n.to_address for n in told] == [address]
        assert "Corte general en la zona norte" in told[0].body
        cancelled = session.scalars(
            select(Promise).where(Promise.ticket_id == t.id, Promise.state == "cancelled")
        ).all()
        assert [p.reason for p in cancelled] == ["Corte general en la zona norte"]
        assert any(p.due_at == new_due for p in planning.pending_promises(session, t.id))


def test_bulk_actions_are_all_or_nothing_and_keep_to_the_reach(session: Session) -> None:
    make_org(session)
    a = make_ticket(session, kind="fault")
    b = make_ticket(session, kind="complaint")
    agent = make_person(session, "pilar")
    session.add(AgentProfile(user_id=agent.id, team_id=a.team_id))
    session.commit()
    with pytest.raises(Forbidden):
        bulk.load(session, [a.id, b.id], reach_of(session, agent))
    with pytest.raises(InvalidInput):
        bulk.load(session, [], reach_of(session, agent))
    chosen = bulk.load(session, [a.id], reach_of(session, agent))
    assert bulk.assign(session, chosen, user=agent, now=START, team_id=None, assignee_id=agent.id)
    assert session.get(Ticket, a.id).assignee_id == agent.id  # type: ignore[union-attr]
    with pytest.raises(InvalidInput, match="reason"):
        bulk.reschedule(
            session,
            chosen,
            START + timedelta(days=1),
            reason=" ",
            user=agent,
            now=START,
            base_url=BASE_URL,
        )


# --- feed -----------------------------------------------------------------------------------------


def test_the_feed_tells_the_cases_life_in_order(session: Session) -> None:
    make_org(session)
    ana = make_person(session, "ana", name="Ana Gil")
    t = make_ticket(session, description="Sin cobertura", kind="fault")
    later = START + timedelta(minutes=10)
    tags.add(session, t, "cobertura", user=ana, now=later)
    handling.add_note(session, t, "Revisar antena", user=ana, now=later + timedelta(minutes=1))
    handling.change_status(session, t, "open", user=ana, now=later + timedelta(minutes=2))
    session.commit()
    items = feed.feed(session, t)
    kinds = [(i.kind, i.code) for i in items]
    assert ("promise", "made") in kinds
    assert kinds.index(("audit", "ticket.tagged")) < kinds.index(("message", "note"))
    assert kinds.index(("message", "note")) < kinds.index(("event", "status:open"))
    tagged = next(i for i in items if i.code == "ticket.tagged")
    assert tagged.who == "Ana Gil"
    assert tagged.data["tag"] == "cobertura"
    assert [i.at for i in items] == sorted(i.at for i in items)


def test_an_email_to_a_merged_number_joins_the_surviving_case(
    session: Session, settings: Settings
) -> None:
    make_org(session)
    agent = make_person(session, "ana")
    keep = make_ticket(session, description="Sin agua", kind="fault")
    dup = make_ticket(session, description="Sin agua otra vez", kind="fault")
    merge.merge(session, keep, dup, user=agent, now=START)
    session.commit()
    msg = EmailMessage()
    msg["From"], msg["To"] = "rosa@example.es", "atencion@aguas.example"
    msg["Subject"] = f"Re: [{dup.number}] Sigo igual"
    msg["Message-ID"] = make_msgid(domain="example.net")
    msg.set_content("Sigo sin agua esta mañana")
    got = receive_email(
        session, msg.as_bytes(), now=START + timedelta(hours=1), settings=settings, source="smtp"
    )
    assert got.ticket_id == keep.id
    assert "Sigo sin agua esta mañana" in [m.body for m in service.thread(session, keep.id)]
