"""Every CSV escucha writes is defused against formula injection (OWASP)."""

from __future__ import annotations

import ast
import csv
import io
from datetime import timedelta
from pathlib import Path

import pytest
import typer
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from escucha.analytics.schemas import AnalysisOptions
from escucha.analytics.service import analyze_event_rows
from escucha.auth import service as auth_service
from escucha.cli.complaints import register
from escucha.config import Settings
from escucha.contacts import service as contacts
from escucha.csvsafe import FORMULA_STARTS, defuse, restore
from escucha.tickets import handling, opening
from tests.conftest import START
from tests.factories import make_agent, make_org, make_user

SRC = Path(__file__).resolve().parent.parent / "src" / "escucha"


@pytest.mark.parametrize("start", FORMULA_STARTS)
def test_a_cell_starting_with_a_formula_character_is_quoted_and_restored(start: str) -> None:
    cell = f'{start}HYPERLINK("http://evil.example","x")'
    assert defuse(cell) == "'" + cell
    assert restore(defuse(cell)) == cell


def test_other_cells_and_numbers_are_left_alone() -> None:
    assert defuse("Cobro doble") == "Cobro doble"
    assert defuse("2026-0000001-2") == "2026-0000001-2"
    assert defuse(-5) == -5
    assert defuse(None) is None
    assert restore("'hola") == "'hola"


def test_the_complaints_register_defuses_a_customers_topic_and_an_agents_resolution(
    settings: Settings, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Finding 8: ``escucha complaints export`` wrote both cells as they were."""
    make_org(session)
    agent = make_agent(session)
    ticket = opening.file_complaint(
        session,
        opening.Intake(
            channel="web",
            description="x",
            topic='=HYPERLINK("http://evil.example","Ver")',
        ),
        now=START,
        base_url="https://x",
    ).ticket
    handling.resolve(
        session, ticket, "=cmd|' /C calc'!A0", user=agent, now=START, base_url="x", channel=None
    )
    session.commit()
    monkeypatch.setenv("ESCUCHA_DATABASE_URL", settings.database_url)
    root = typer.Typer()
    register(root)
    result = CliRunner().invoke(
        root, ["complaints", "export", "--from", "2026-11-23", "--to", "2026-11-23"]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert rows[0]["topic"] == "'" + '=HYPERLINK("http://evil.example","Ver")'
    assert rows[0]["resolution"] == "'=cmd|' /C calc'!A0"


def test_the_event_log_defuses_its_cells_and_analyze_reads_them_back(
    client: TestClient, session: Session
) -> None:
    user = make_user(session, username="jefa", role="supervisor")
    raw = auth_service.create_token(session, user, "t", now=START)
    contact = contacts.start_contact(session, channel="voice", now=START, queue="@SUM(1+1)")
    contacts.transition(session, contact, "enqueue", at=START + timedelta(seconds=1))
    contacts.transition(session, contact, "abandon", at=START + timedelta(seconds=40))
    contacts.transition(session, contact, "close", at=START + timedelta(seconds=40))
    session.commit()
    r = client.get("/api/v1/events.csv", headers={"Authorization": f"Bearer {raw}"})
    assert r.status_code == 200
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert {row["queue"] for row in rows} == {"'@SUM(1+1)"}
    result = analyze_event_rows(r.text, options=AnalysisOptions(lang="en"), name="events.csv")
    assert [q["queue"] for q in result.kpis.by_queue] == ["@SUM(1+1)"]


def test_no_module_writes_csv_without_the_shared_defusing_writer() -> None:
    offences = []
    for path in sorted(SRC.rglob("*.py")):
        if path.name == "csvsafe.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in ("writer", "DictWriter")
                and isinstance(node.value, ast.Name)
                and node.value.id == "csv"
            ):
                offences.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert offences == [], "write CSV with escucha.csvsafe: " + ", ".join(offences)
