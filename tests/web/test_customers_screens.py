"""The customer screens: search, the record with its history, edits from the record, the desk
and the case, merge, and export and erasure for supervisors (ADR 27)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from escucha.audit.models import AuditEvent
from escucha.cli.customers import register
from escucha.config import Settings
from escucha.contacts.models import Customer
from escucha.tickets.models import Ticket
from tests.conftest import csrf_from, login
from tests.factories import (
    PASSWORD,
    make_agent,
    make_customer,
    make_ended_contact,
    make_org,
    make_ticket,
    make_user,
)


def _signed_in(client: TestClient, session: Session, role: str) -> int:
    user = make_user(session, username=f"{role}1", role=role, display_name="Sara")
    session.commit()
    assert login(client, f"{role}1", PASSWORD).status_code == 303
    return user.id


def _post(client: TestClient, path: str, page: str, **data: str) -> object:
    token = csrf_from(client.get(page).text)
    return client.post(path, data={"csrf_token": token, **data}, follow_redirects=False)


def _actions(session: Session) -> list[str]:
    session.expire_all()
    return list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))


def test_an_agent_finds_opens_and_edits_a_customer_of_theirs(
    client: TestClient, session: Session
) -> None:
    make_org(session)
    me = _signed_in(client, session, "agent")
    rosa = make_customer(session, phone="+34600111222", email="rosa@example.es", name="Rosa Pérez")
    make_ended_contact(session, agent_id=me, customer=rosa).recap = "Cambio de tarifa"
    stranger = make_customer(session, phone="+34600999888", name="Rosa Gil")
    session.commit()
    found = client.get("/customers?q=rosa")
    assert f'href="/customers/{rosa.id}"' in found.text
    assert f'href="/customers/{stranger.id}"' not in found.text  # not in her reach
    assert client.get(f"/customers/{stranger.id}").status_code == 403
    page = client.get(f"/customers/{rosa.id}")
    assert page.status_code == 200
    assert "Rosa Pérez" in page.text
    assert "Cambio de tarifa" in page.text
    assert "+34600111222" in page.text
    assert "Exportar" not in page.text  # data protection is for supervisors
    r = _post(
        client,
        f"/customers/{rosa.id}",
        f"/customers/{rosa.id}",
        name="Rosa Pérez Ruiz",
        language="en",
        consent="1",
        consent_email="1",
        notes="Llamar por la tarde",
    )
    assert r.status_code == 303  # type: ignore[attr-defined]
    r = _post(
        client, f"/customers/{rosa.id}/points", f"/customers/{rosa.id}", kind="email", value="x@y"
    )
    assert r.status_code == 422  # type: ignore[attr-defined]
    assert "is not an email address" in r.text  # type: ignore[attr-defined]
    _post(
        client,
        f"/customers/{rosa.id}/points",
        f"/customers/{rosa.id}",
        kind="phone",
        value="611 22 33 44",
        label="trabajo",
    )
    session.expire_all()
    saved = session.get(Customer, rosa.id)
    assert saved is not None
    assert (saved.name, saved.language, saved.consent_sms, saved.consent_email) == (
        "Rosa Pérez Ruiz",
        "en",
        False,
        True,
    )
    assert saved.notes == "Llamar por la tarde"
    assert "+34611223344" in client.get(f"/customers/{rosa.id}").text
    assert _actions(session)[-2:] == ["customer.updated", "customer.point_added"]


def test_the_case_page_names_the_customer_and_merges_a_duplicate(
    client: TestClient, session: Session
) -> None:
    make_org(session)
    _signed_in(client, session, "supervisor")
    ticket = make_ticket(session, email="rosa@example.es", kind="complaint")
    first = session.get(Customer, ticket.customer_id)
    assert first is not None
    second = make_customer(session, phone="+34600111222", name="")
    make_ended_contact(session, agent_id=None, customer=second)
    session.commit()
    case = f"/tickets/{ticket.id}"
    assert 'id="case-name-form"' in client.get(case).text
    r = _post(client, f"/customers/{first.id}", case, name="Rosa", back=case)
    assert r.headers["location"] == case  # type: ignore[attr-defined]
    r = _post(client, f"/customers/{first.id}/merge", case, other=str(second.id), back=case)
    assert r.headers["location"] == case  # type: ignore[attr-defined]
    page = client.get(f"/customers/{first.id}")
    assert "+34600111222" in page.text
    assert ticket.number in page.text
    merged = client.get(f"/customers/{second.id}", follow_redirects=False)
    assert merged.headers["location"] == f"/customers/{first.id}"
    assert "customer.merged" in _actions(session)
    r = _post(client, f"/customers/{first.id}/merge", case, other=str(first.id))
    assert r.status_code == 409  # type: ignore[attr-defined]


def test_a_supervisor_exports_and_erases_a_customers_data(
    client: TestClient, session: Session
) -> None:
    make_org(session)
    _signed_in(client, session, "supervisor")
    ticket = make_ticket(
        session,
        email="rosa@example.es",
        name="Rosalinda",
        kind="complaint",
        description="Soy Rosalinda y me cobraron dos veces; llamen al 600 111 222.",
    )
    customer_id = ticket.customer_id
    assert customer_id is not None
    session.commit()
    export = client.get(f"/customers/{customer_id}/export")
    assert export.status_code == 200
    assert "attachment" in export.headers["content-disposition"]
    data = json.loads(export.text)
    assert data["customer"]["email"] == "rosa@example.es"
    assert data["cases"][0]["number"] == ticket.number
    page = f"/customers/{customer_id}"
    refused = _post(client, f"{page}/erase", page, confirm="0")
    assert refused.status_code == 422  # type: ignore[attr-defined]
    assert "Escriba el número del cliente para suprimir sus datos." in refused.text  # type: ignore[attr-defined]
    done = _post(client, f"{page}/erase", page, confirm=str(customer_id))
    assert done.status_code == 303  # type: ignore[attr-defined]
    session.expire_all()
    kept = session.get(Ticket, ticket.id)
    assert kept is not None
    assert kept.number == ticket.number
    assert "Rosalinda" not in kept.description
    assert "600 111 222" not in kept.description
    assert "me cobraron dos veces" in kept.description
    assert "Datos suprimidos" in client.get(page).text
    assert _actions(session)[-2:] == ["customer.exported", "customer.erased"]


def test_an_agent_may_not_export_or_erase(client: TestClient, session: Session) -> None:
    make_org(session)
    me = _signed_in(client, session, "agent")
    rosa = make_customer(session)
    make_ended_contact(session, agent_id=me, customer=rosa)
    session.commit()
    assert client.get(f"/customers/{rosa.id}/export").status_code == 403
    r = _post(client, f"/customers/{rosa.id}/erase", f"/customers/{rosa.id}", confirm=str(rosa.id))
    assert r.status_code == 403  # type: ignore[attr-defined]


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    monkeypatch.setenv("ESCUCHA_DATABASE_URL", settings.database_url)
    root = typer.Typer()
    register(root)
    return root


def test_the_cli_exports_and_erases(cli: typer.Typer, session: Session, tmp_path: Path) -> None:
    make_org(session)
    agent = make_agent(session)
    rosa = make_customer(session, email="rosa@example.es", name="Rosa")
    make_ended_contact(session, agent_id=agent.id, customer=rosa)
    session.commit()
    out = tmp_path / "rosa.json"
    runner = CliRunner()
    result = runner.invoke(cli, ["customers", "export", str(rosa.id), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["customer"]["name"] == "Rosa"
    result = runner.invoke(cli, ["customers", "erase", str(rosa.id)], input="n\n")
    assert result.exit_code == 1
    result = runner.invoke(cli, ["customers", "erase", str(rosa.id), "--yes"])
    assert result.exit_code == 0, result.output
    session.expire_all()
    erased = session.get(Customer, rosa.id)
    assert erased is not None
    assert erased.erased_at is not None
    assert erased.email is None
    result = runner.invoke(cli, ["customers", "export", "999999"])
    assert result.exit_code == 1
    assert "not found" in result.output
