"""The Reports page (W3, W4, W5, M1, C6): the live event log read as ``escucha analyze`` does."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from escucha.analytics.replay import ReplayOptions
from escucha.analytics.replay_log import replay_event_rows
from escucha.analytics.service import analyze_event_rows
from escucha.clock import FrozenClock
from escucha.routing import service as routing
from tests.conftest import START, login
from tests.factories import caller, demo


def s(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


def _three_callers(session: Session) -> dict[str, int]:
    """Ana answers the first caller after 15 s; the second hangs up after 30 s; the third
    waits 210 s, until Ana is free again.

    Offered 3, answered 2, abandoned 1; answered within 20 s: 1, short abandons (<= 5 s): 0,
    so the service level is 1 / 3; ASA = (15 + 210) / 2 = 112.5 s.
    """
    users = demo(session)
    ana = users["ana"]
    first = caller(session, START, "600333001")
    second = caller(session, START + s(20), "600333002")
    third = caller(session, START + s(30), "600333003")
    routing.set_agent_state(session, ana, "available", now=START + s(10))
    session.refresh(first)
    assert first.agent_id == ana
    routing.answer(session, ana, first.id, now=START + s(15))
    routing.abandon(session, second, now=START + s(50))
    routing.end_call(session, ana, first.id, now=START + s(195), ended_by="customer")
    routing.wrap_up(
        session, ana, first.id, now=START + s(225), outcome="solved", resolved=True, recap="ok"
    )
    session.refresh(third)
    assert third.agent_id == ana
    routing.answer(session, ana, third.id, now=START + s(240))
    routing.wrap_up(
        session, ana, third.id, now=START + s(400), outcome="solved", resolved=True, recap="ok"
    )
    session.commit()
    return users


def _tile(html: str, name: str) -> str:
    found = re.search(rf'<li id="kpi-{name}">.*?<span class="tile-value">(.*?)</span>', html, re.S)
    assert found, name
    return found.group(1).strip()


@pytest.fixture
def sofia(client: TestClient, session: Session, clock: FrozenClock) -> dict[str, int]:
    users = _three_callers(session)
    clock.set(START + timedelta(hours=2))
    assert login(client, "sofia", "escucha-demo").status_code == 303
    return users


def test_the_page_shows_the_hand_computed_numbers(
    client: TestClient, sofia: dict[str, int]
) -> None:
    r = client.get("/reports")
    assert r.status_code == 200, r.text
    html = r.text
    assert _tile(html, "offered") == "3"
    assert _tile(html, "answered") == "2"
    assert _tile(html, "abandoned") == "1"
    assert _tile(html, "sl") == "33,3\u00a0%"  # Spanish: decimal comma, space before %
    assert _tile(html, "asa") == "112.5 s"
    # the agent table: Ana, with handle time right beside resolution and repeat contacts
    row = re.search(r'<table class="compact" id="agents-table">.*?<tbody>(.*?)</tbody>', html, re.S)
    assert row
    assert "Ana" in row.group(1)
    header = re.search(r'id="agents-table">\s*<thead>(.*?)</thead>', html, re.S)
    assert header
    cols = [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<th[^>]*>(.*?)</th>", header.group(1))]
    aht = cols.index("TMO")
    assert cols[aht + 1 : aht + 3] == ["Resolución en el primer contacto", "Contactos repetidos"]
    # every section is there, with its charts as data islands
    for section in ("report-intervals", "report-patience", "report-erlang", "report-queues"):
        assert f'id="{section}"' in html
    for figure in ("fig-volume", "fig-sl-asa", "fig-abandon", "fig-survival", "fig-erlang"):
        assert f'id="{figure}"' in html
    assert "≤ 120 s" in html


def test_the_page_agrees_with_escucha_analyze_on_the_downloaded_log(
    client: TestClient, sofia: dict[str, int]
) -> None:
    log = client.get("/reports/events.csv")
    assert log.status_code == 200
    assert log.headers["content-disposition"].startswith("attachment")
    assert log.text.startswith("contact_id,event,at,queue,agent,customer_id,channel,data")
    result = analyze_event_rows(log.text)
    ov = result.kpis.overall
    assert (ov["offered"], ov["answered_queued"], ov["abandoned"]) == (3, 2, 1)
    assert result.summary["abandon_by_wait"]["30"] == pytest.approx(1 / 3)


def test_the_html_report_is_a_download(client: TestClient, sofia: dict[str, int]) -> None:
    r = client.get("/reports/live.html")
    assert r.status_code == 200
    assert r.headers["content-disposition"].startswith("attachment;")
    assert r.headers["content-type"].startswith("text/html")
    assert "plotly" in r.text.lower()


def test_days_without_calls_explain_themselves(client: TestClient, sofia: dict[str, int]) -> None:
    r = client.get("/reports?since=2026-01-01&until=2026-01-07")
    assert r.status_code == 200
    assert 'id="report-empty"' in r.text
    assert "No hay llamadas en estos días" in r.text
    assert 'id="report-kpis"' not in r.text


def test_a_bad_date_is_named(client: TestClient, sofia: dict[str, int]) -> None:
    r = client.get("/reports?since=ayer")
    assert r.status_code == 422
    assert "since: not a date" in r.text
    r = client.get("/reports?since=2026-02-01&until=2026-01-01")
    assert r.status_code == 422


def test_the_page_replays_the_announced_waits_by_queue_and_week(
    client: TestClient, sofia: dict[str, int]
) -> None:
    """The first caller arrives before anybody is on duty: escucha would have said the
    queue's default, 120 s ("less than 3 minutes"), and she waited 15 s. The second (20 s in,
    nobody ahead) and the third (30 s in, one ahead) would have heard the last wait, 15 s
    ("less than 1 minute"): the second hung up after 30 s, within it; the third waited 210 s.
    escucha's error: (105 + 195) / 2 = 150 s; bound kept for 1 of 2 served callers."""
    page = client.get("/reports").text
    assert 'hx-get="/reports/estimates?since=' in page  # loaded after the page
    html = client.get("/reports/estimates").text
    table = re.search(r'<table class="compact" id="estimates-table">.*?</table>', html, re.S)
    assert table, "the replay section is missing"
    rows = re.findall(r"<tr><th scope=\"row\">(.*?)</th>(.*?)</tr>", table.group(0), re.S)
    assert rows[0][0] == "Todas las colas"
    assert any(label.startswith("Cola ") for label, _ in rows)
    assert any(label.startswith("Semana ") for label, _ in rows)
    tds = re.findall(r"<td[^>]*>(.*?)</td>", rows[0][1])
    cells = [re.sub(r"<[^>]+>", "", c).strip() for c in tds]
    assert cells[0] == "3"  # callers told a wait
    assert cells[1] == "150.0 s"  # escucha MAE
    assert cells[-2] == "50,0\u00a0%"  # bound kept
    assert cells[-1] == "100,0\u00a0%"  # the caller who hung up had not waited past the bound
    # the same replay as `escucha estimate replay` on the downloaded log
    log = client.get("/reports/events.csv").text
    doc = replay_event_rows(log, options=ReplayOptions(warmup_s=0.0)).to_json()
    assert doc["callers"] == 3
    assert doc["predictors"]["escucha"]["mae_s"] == 150.0
    assert doc["predictors"]["escucha"]["bound_kept"] == 0.5
