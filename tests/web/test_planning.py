"""The Planning page (W4, C6): staffing as the numerics compute it, the day plan with breaks,
upload errors that name the line, and the answer target from the live callers' patience."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from escucha.clock import FrozenClock
from escucha.numerics.patience import summarize_patience
from escucha.numerics.staffing import SPAIN_95_180, ServiceLevelTarget, Targets, staff
from escucha.routing import service as routing
from escucha.staffing.samples import sample_history, sample_history_csv
from escucha.staffing.service import parse_history_csv, plan_day
from tests.conftest import START, csrf_from, login
from tests.factories import caller, demo, make_user

HX = {"HX-Request": "true"}


@pytest.fixture
def supervisor(client: TestClient, session: Session) -> str:
    make_user(session, username="sup", role="supervisor")
    session.commit()
    assert login(client, "sup", "correct-horse-battery").status_code == 303
    page = client.get("/planning")
    assert page.status_code == 200
    return csrf_from(page.text)


def _staff_form(**changes: str) -> dict[str, str]:
    form = {
        "arrivals_per_h": "2000",
        "aht_s": "180",
        "target_sl_pct": "80",
        "target_time_s": "20",
        "max_asa_s": "",
        "max_abandon_pct": "",
        "max_occupancy_pct": "",
        "patience_s": "",
        "shrinkage_pct": "30",
        "sl_definition": "offered",
        "agents": "",
        "agent_per_h": "22",
        "per_abandon": "6",
        "per_wait_min": "0.5",
    }
    form.update(changes)
    return form


def _number(html: str, attr: str) -> int:
    found = re.search(rf'{attr}="(\d+)"', html)
    assert found, attr
    return int(found.group(1))


@pytest.mark.parametrize(
    ("changes", "targets", "patience"),
    [
        ({}, Targets(service_levels=(ServiceLevelTarget(0.8, 20.0),)), None),
        (
            {"spain": "on", "patience_s": "90", "max_abandon_pct": "3"},
            Targets(service_levels=(ServiceLevelTarget(0.8, 20.0), SPAIN_95_180), max_abandon=0.03),
            90.0,
        ),
        (
            {"target_sl_pct": "", "max_asa_s": "15", "max_occupancy_pct": "85"},
            Targets(max_asa_s=15.0, max_occupancy=0.85),
            None,
        ),
    ],
)
def test_the_staffing_shown_is_what_the_numerics_compute(
    client: TestClient,
    supervisor: str,
    changes: dict[str, str],
    targets: Targets,
    patience: float | None,
) -> None:
    form = _staff_form(**changes)
    r = client.post("/planning/staff", data={**form, "csrf_token": supervisor}, headers=HX)
    assert r.status_code == 200, r.text
    expected = staff(2000.0, 180.0, targets, patience_mean_s=patience, shrinkage=0.3)
    assert _number(r.text, "data-agents-on-phone") == expected.agents
    assert _number(r.text, "data-scheduled") == expected.scheduled_agents
    assert ("Erlang A" if patience else "Erlang C") in r.text
    # both charts travel as JSON data islands, and the fragment may carry Plotly's styles
    assert 'id="fig-service-level"' in r.text
    assert 'id="fig-cost"' in r.text
    assert "'unsafe-inline'" in r.headers["content-security-policy"].split("style-src")[1]


def test_without_javascript_the_whole_page_comes_back(client: TestClient, supervisor: str) -> None:
    r = client.post("/planning/staff", data={**_staff_form(), "csrf_token": supervisor})
    assert r.status_code == 200
    assert "<html" in r.text
    assert 'data-agents-on-phone="' in r.text


def test_too_few_agents_is_said_in_words(client: TestClient, supervisor: str) -> None:
    # 2000 calls/h x 180 s = 100 Erlangs; 100 agents on the phone cannot keep up (Erlang C)
    form = _staff_form(target_sl_pct="", agents="100", shrinkage_pct="0")
    r = client.post("/planning/staff", data={**form, "csrf_token": supervisor}, headers=HX)
    assert r.status_code == 200, r.text
    assert 'id="staff-unstable"' in r.text
    assert "Inestable" in r.text
    assert "crece sin límite" in r.text
    # one more agent and the queue is stable again
    form = _staff_form(target_sl_pct="", agents="101", shrinkage_pct="0")
    r = client.post("/planning/staff", data={**form, "csrf_token": supervisor}, headers=HX)
    assert 'id="staff-unstable"' not in r.text


def test_mistakes_in_the_form_are_named(client: TestClient, supervisor: str) -> None:
    form = _staff_form(arrivals_per_h="mucho", shrinkage_pct="120")
    r = client.post("/planning/staff", data={**form, "csrf_token": supervisor}, headers=HX)
    assert r.status_code == 422
    assert "Llamadas por hora: no es un número" in r.text
    assert "Merma (%): debe ser" in r.text


def _upload(client: TestClient, csrf: str, name: str, text: str, **fields: str) -> Any:
    data = {
        "csrf_token": csrf,
        "target_sl_pct": "80",
        "target_time_s": "20",
        "shrinkage_pct": "15",
        "aht_s": "180",
        **fields,
    }
    files = {"history": (name, text.encode("utf-8"), "text/csv")}
    return client.post("/planning/day", data=data, files=files, headers=HX)


def test_upload_errors_name_the_file_and_line(client: TestClient, supervisor: str) -> None:
    text = "interval_start,calls\n2026-11-02T09:00:00Z,12\n2026-11-02T09:30:00Z,doce\n"
    r = _upload(client, supervisor, "historia.csv", text)
    assert r.status_code == 422
    assert "historia.csv:3: calls: not a number: &#39;doce&#39;" in r.text
    r = _upload(client, supervisor, "historia.csv", "when,calls\n")
    assert r.status_code == 422
    assert "historia.csv:1: header must be interval_start,calls[,aht_s]" in r.text


def test_an_upload_above_the_limit_is_refused(
    app: FastAPI, client: TestClient, supervisor: str
) -> None:
    app.state.settings = app.state.settings.model_copy(update={"max_upload_bytes": 2000})
    r = _upload(client, supervisor, "big.csv", sample_history_csv(date(2026, 10, 5)))
    assert r.status_code == 422
    assert "2000 bytes" in r.text


def test_the_day_plan_has_shifts_with_breaks(client: TestClient, supervisor: str) -> None:
    text = sample_history_csv(date(2026, 10, 19))
    r = _upload(client, supervisor, "sample.csv", text)
    assert r.status_code == 200, r.text
    plan = plan_day(
        parse_history_csv(text, "sample.csv"),
        Targets(service_levels=(ServiceLevelTarget(0.8, 20.0),)),
        shrinkage=0.15,
        aht_s=180.0,
    )
    shifts = re.search(r'<table id="day-shifts">.*?<tbody>(.*?)</tbody>', r.text, re.S)
    assert shifts
    rows = re.findall(r"<tr>(.*?)</tr>", shifts.group(1), re.S)
    assert len(rows) == len(plan.shifts.shifts) > 0
    people = [int(x) for x in re.findall(r'<td class="num">(\d+)</td></tr>', shifts.group(0))]
    assert sum(people) == plan.shifts.agents
    # every shift carries its break: "HH:MM–HH:MM (30 min)"
    for row in rows:
        assert re.search(r"\d\d:\d\d–\d\d:\d\d \(30 min\)", row), row
    assert plan.shifts.on_break.sum() > 0
    # the forecast was checked on the held-back week, and the chart is there
    assert "WAPE" in r.text
    assert 'id="fig-day-plan"' in r.text
    assert 'id="day-intervals"' in r.text


def test_the_sample_history_is_five_weeks_of_half_hours(
    client: TestClient, supervisor: str
) -> None:
    r = client.get("/planning/sample-history.csv")
    assert r.status_code == 200
    assert "attachment" in r.headers["content-disposition"]
    history = parse_history_csv(r.text, "sample-history.csv")
    assert history.interval_s == 1800
    assert history.calls.size == 5 * 7 * 48
    # the history ends where the plan starts: the Monday of the page's week
    assert history.end.weekday() == 0
    assert history.end.date() <= START.date() < history.end.date() + timedelta(days=7)


def test_the_sample_has_weekly_and_daily_shape() -> None:
    rows = sample_history(date(2026, 10, 5), weeks=2, seed=3)
    by_day: dict[int, int] = {}
    for at, calls, _aht in rows:
        by_day[at.weekday()] = by_day.get(at.weekday(), 0) + calls
    assert by_day[0] > by_day[2] > by_day[5] > by_day[6] == 0
    night = sum(c for at, c, _ in rows if at.hour < 6)
    assert night == 0
    assert sample_history(date(2026, 10, 5), weeks=1, seed=3) == rows[: 7 * 48]


def _patience_arrange(session: Session) -> tuple[list[float], list[bool]]:
    """Forty callers: twelve hang up after 5 to 115 s, the others are still waiting."""
    demo(session)
    waits: list[float] = []
    abandoned: list[bool] = []
    now = START + timedelta(minutes=30)
    for i in range(40):
        queued_at = START + timedelta(seconds=20 * i)
        c = caller(session, queued_at, f"60022{i:04d}")
        if i < 12:
            wait = 5.0 + 10.0 * i
            routing.abandon(session, c, now=queued_at + timedelta(seconds=wait))
            waits.append(wait)
            abandoned.append(True)
        else:
            waits.append((now - queued_at).total_seconds())
            abandoned.append(False)
    session.commit()
    return waits, abandoned


def test_the_answer_target_comes_from_the_live_callers_patience(
    client: TestClient, supervisor: str, session: Session, clock: FrozenClock
) -> None:
    waits, abandoned = _patience_arrange(session)
    clock.set(START + timedelta(minutes=30))
    r = client.get("/planning/patience?level=90")
    assert r.status_code == 200
    expected = summarize_patience(np.array(waits), np.array(abandoned), survival_level=0.9)
    assert expected.target.target_s is not None
    block = r.text.split('id="patience-all"')[1]
    shown = re.search(r'data-target="([\d.]+)"', block)
    assert shown
    assert float(shown.group(1)) == pytest.approx(expected.target.target_s)
    assert "Cola facturas" in r.text
    assert 'id="fig-survival-all"' in r.text
    assert 'id="fig-abandon-all"' in r.text


def test_too_few_callers_is_not_enough_data(client: TestClient, supervisor: str) -> None:
    r = client.get("/planning/patience")
    assert r.status_code == 200
    assert "data-not-enough" in r.text
    assert "No hay datos suficientes" in r.text
    assert "data-target" not in r.text


def test_in_english_and_without_javascript_the_day_plan_is_a_whole_page(
    client: TestClient, supervisor: str
) -> None:
    client.post("/language", data={"lang": "en", "next": "/planning", "csrf_token": supervisor})
    data = {"csrf_token": supervisor, "target_sl_pct": "80", "target_time_s": "20"}
    data |= {"shrinkage_pct": "15", "aht_s": "180"}
    text = sample_history_csv(date(2026, 10, 19))
    files = {"history": ("sample.csv", text.encode("utf-8"), "text/csv")}
    r = client.post("/planning/day", data=data, files=files)
    assert r.status_code == 200, r.text
    assert "<html" in r.text
    assert "Shifts and their breaks" in r.text
    assert "Plan for 2026-11-23" in r.text
