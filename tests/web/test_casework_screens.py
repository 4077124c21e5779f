"""Case work on the screens: the search box, saved views, tags, canned replies, merges with the
status page, bulk actions and the activity feed."""

from __future__ import annotations

import html
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha.auth.models import User
from escucha.notifications.models import Notification
from escucha.promises.models import Promise
from escucha.tickets import service, tags
from escucha.tickets.models import CannedReply, Ticket
from tests.conftest import csrf_from, login
from tests.factories import PASSWORD, make_canned_reply, make_org, make_ticket, make_user


@pytest.fixture
def sup(client: TestClient, session: Session) -> TestClient:
    make_user(session, username="sara", role="supervisor", display_name="Sara Gil")
    session.commit()
    assert login(client, "sara", PASSWORD).status_code == 303
    return client


def _csrf(client: TestClient, path: str = "/tickets") -> str:
    return csrf_from(client.get(path).text)


def test_the_search_box_finds_a_case_by_a_word_of_its_text(
    sup: TestClient, session: Session
) -> None:
    make_org(session)
    leak = make_ticket(session, description="Hay una fuga de agua en el portal")
    other = make_ticket(session, description="Quiero cambiar la tarifa")
    session.commit()
    page = sup.get("/tickets", params={"q": "fugas"})
    assert page.status_code == 200
    assert leak.number in page.text
    assert other.number not in page.text
    assert "Resultados para" in page.text
    assert "Encontrado en el caso" in page.text


def test_a_saved_view_lists_its_cases_with_a_live_count(sup: TestClient, session: Session) -> None:
    make_org(session)
    a = make_ticket(session, description="uno")
    b = make_ticket(session, description="dos")
    session.commit()
    csrf = _csrf(sup, f"/tickets/{a.id}")
    added = sup.post(
        f"/tickets/{a.id}/tags", data={"csrf_token": csrf, "tag": "Fibra"}, follow_redirects=False
    )
    assert added.status_code == 303
    saved = sup.post(
        "/tickets/views",
        data={"csrf_token": csrf, "name": "Fibra", "shared": "1", "query": "tag=fibra"},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    page = sup.get(saved.headers["location"])
    assert a.number in page.text
    assert b.number not in page.text
    count = re.search(r'>Fibra</a>\s*<span class="count" data-count="(\d+)"', page.text)
    assert count is not None
    assert count.group(1) == "1"
    refused = sup.post(
        f"/tickets/{a.id}/tags", data={"csrf_token": csrf, "tag": "a;b"}, follow_redirects=False
    )
    assert refused.status_code == 422
    assert tags.tags_of(session, [a.id]) == {a.id: ["fibra"]}


def test_canned_replies_are_kept_by_supervisors_and_filled_on_the_case(
    client: TestClient, session: Session
) -> None:
    make_org(session)
    t = make_ticket(session, name="Rosa Pérez", kind="complaint")
    make_user(session, username="sara", role="supervisor", display_name="Sara Gil")
    make_user(session, username="marta", role="agent", display_name="Marta Ruiz")
    t.assignee_id = session.scalar(select(User.id).where(User.username == "marta"))
    session.commit()
    login(client, "sara", PASSWORD)
    csrf = _csrf(client, "/canned-replies")
    bad = client.post(
        "/canned-replies",
        data={"csrf_token": csrf, "title": "Mal", "language": "es", "body": "Caso {numero}"},
    )
    assert bad.status_code == 422
    assert "{numero}" in html.unescape(bad.text)
    ok = client.post(
        "/canned-replies",
        data={
            "csrf_token": csrf,
            "title": "Acuse",
            "language": "es",
            "body": "Hola {customer_name}: su caso {case_number}. {agent_name}",
        },
        follow_redirects=False,
    )
    assert ok.status_code == 303
    assert session.scalar(select(CannedReply.title)) == "Acuse"
    client.post("/logout", data={"csrf_token": _csrf(client)})
    login(client, "marta", PASSWORD)
    assert client.get("/canned-replies").status_code == 403
    page = html.unescape(client.get(f"/tickets/{t.id}").text)
    assert f'data-text="Hola Rosa Pérez: su caso {t.number}. Marta Ruiz"' in page


def test_a_merge_keeps_the_old_number_reachable_on_the_status_page(
    sup: TestClient, session: Session
) -> None:
    make_org(session)
    keep = make_ticket(session, description="Sin agua", kind="fault")
    dup = make_ticket(session, description="Sigo sin agua", kind="fault")
    old_number, old_code = dup.number, dup.verification_code
    session.commit()
    csrf = _csrf(sup, f"/tickets/{keep.id}")
    merged = sup.post(
        f"/tickets/{keep.id}/merge",
        data={"csrf_token": csrf, "other": old_number},
        follow_redirects=False,
    )
    assert merged.status_code == 303
    page = sup.get(f"/tickets/{keep.id}").text
    assert "Sigo sin agua" in page
    assert "Casos fusionados en este" in page
    assert "Este caso se fusionó en" in sup.get(f"/tickets/{dup.id}").text
    again = sup.post(f"/tickets/{keep.id}/merge", data={"csrf_token": csrf, "other": old_number})
    assert again.status_code == 422
    status_csrf = _csrf(sup, "/status")
    found = sup.post(
        "/status",
        data={"csrf_token": status_csrf, "number": old_number, "code": old_code},
        follow_redirects=False,
    )
    assert found.status_code == 303
    assert keep.number in sup.get("/status/view").text


def test_bulk_assign_and_bulk_reschedule_from_the_list(sup: TestClient, session: Session) -> None:
    make_org(session)
    a = make_ticket(session, email="a@example.es", kind="fault")
    b = make_ticket(session, email="b@example.es", kind="fault")
    marta = make_user(session, username="marta", role="agent", display_name="Marta Ruiz")
    session.commit()
    csrf = _csrf(sup)
    ids = [str(a.id), str(b.id)]
    assigned = sup.post(
        "/tickets/bulk",
        data={"csrf_token": csrf, "action": "assign", "ids": ids, "assignee_id": str(marta.id)},
        follow_redirects=False,
    )
    assert assigned.status_code == 303
    session.expire_all()
    assert {t.assignee_id for t in session.scalars(select(Ticket))} == {marta.id}
    no_reason = sup.post(
        "/tickets/bulk",
        data={"csrf_token": csrf, "action": "reschedule", "ids": ids, "due": "2026-12-01T12:00"},
    )
    assert no_reason.status_code == 422
    assert session.scalar(select(Promise).where(Promise.state == "cancelled")) is None
    moved = sup.post(
        "/tickets/bulk",
        data={
            "csrf_token": csrf,
            "action": "reschedule",
            "ids": ids,
            "due": "2026-12-01T12:00",
            "reason": "Obras en la red",
        },
        follow_redirects=False,
    )
    assert moved.status_code == 303
    assert "done=2" in moved.headers["location"]
    told = session.scalars(select(Notification).where(Notification.kind == "promise_changed"))
    assert sorted(n.to_address for n in told) == ["a@example.es", "b@example.es"]


def test_the_case_page_shows_the_activity_feed(sup: TestClient, session: Session) -> None:
    make_org(session)
    t = make_ticket(session, description="Sin cobertura", kind="fault")
    make_canned_reply(session)
    session.commit()
    csrf = _csrf(sup, f"/tickets/{t.id}")
    sup.post(f"/tickets/{t.id}/tags", data={"csrf_token": csrf, "tag": "cobertura"})
    sup.post(f"/tickets/{t.id}/priority", data={"csrf_token": csrf, "priority": "high"})
    page = sup.get(f"/tickets/{t.id}").text
    feed = page[page.index('id="feed"') :]
    assert "Etiqueta añadida" in feed
    assert "Prioridad cambiada" in feed
    assert "Compromiso adquirido" in feed
    assert feed.index("Compromiso adquirido") < feed.index("Etiqueta añadida")
    session.expire_all()
    assert service.get_ticket(session, t.id).priority == "high"
