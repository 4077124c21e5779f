"""The supervisor's home and the wallboard through the screens (W1, W2, W5, M1, P1)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from escucha.callbacks import service as callbacks
from escucha.clock import FrozenClock
from escucha.contacts.models import Customer
from escucha.routing import service as routing
from tests.conftest import START, csrf_from, login
from tests.factories import caller

S = timedelta(seconds=1)


@pytest.fixture
def sofia(app: FastAPI, users: dict[str, int]) -> Iterator[TestClient]:
    with TestClient(app) as c:
        assert login(c, "sofia", "escucha-demo").status_code == 303
        yield c


def _tile(html: str, queue: str, tile: str) -> tuple[str, str, str]:
    """(level, value, detail) of one tile of one queue."""
    card = html.split(f'data-queue="{queue}"', 1)[1].split("</article>", 1)[0]
    match = re.search(
        rf'data-tile="{tile}" data-level="(\w+)">\s*<p class="tile-label">[^<]*</p>\s*'
        r'<p class="tile-value">([^<]*)</p>(.*?)</div>',
        card,
        re.S,
    )
    assert match, f"no tile {tile} in {queue}"
    return match.group(1), match.group(2).strip(), match.group(3)


def _morning(session: Session, users: dict[str, int]) -> None:
    """Ana holds a caller without telling them; one caller waits; one took a callback."""
    a = caller(session, START - 120 * S, "600333001")
    routing.set_agent_state(session, users["ana"], "available", now=START - 110 * S)
    routing.answer(session, users["ana"], a.id, now=START - 110 * S)
    routing.hold(session, users["ana"], a.id, now=START - 90 * S, announced=False)
    waiting = caller(session, START - 45 * S, "600333002")
    routing.tell_estimate(session, waiting, now=START - 45 * S)
    gone = caller(session, START - 40 * S, "600333003")
    customer = session.get(Customer, gone.customer_id)
    assert customer is not None
    callbacks.request_callback(
        session, now=START - 30 * S, queue="facturas", customer=customer, contact=gone
    )
    short = caller(session, START - 20 * S, "600333004")
    routing.abandon(session, short, now=START - 18 * S)
    session.commit()


def test_the_wallboard_shows_each_queue_with_levels_in_words(
    sofia: TestClient, session: Session, users: dict[str, int]
) -> None:
    _morning(session, users)
    page = sofia.get("/supervisor/wallboard")
    assert page.status_code == 200
    html = page.text
    assert "<h1>Panel de sala</h1>" in html
    assert 'sse-connect="/supervisor/wallboard/events"' in html
    for name in ("Facturas y pagos", "Averías", "Reclamaciones"):
        assert name in html
    assert _tile(html, "facturas", "waiting")[:2] == ("info", "1")
    assert "llamadas de vuelta en la cola: 1" in _tile(html, "facturas", "waiting")[2]
    level, value, detail = _tile(html, "facturas", "longest")
    assert (level, value) == ("bad", "0:45")  # over twice the 20 s target
    assert "Fuera de objetivo" in detail  # the level in words, not colour alone
    level, value, detail = _tile(html, "facturas", "service_level")
    assert (level, value) == (
        "ok",
        "100\u00a0%",
    )  # A answered in 0 s; the short abandon not counted
    level, value, detail = _tile(html, "facturas", "abandoned")
    assert (level, value) == ("ok", "0\u00a0%")
    assert "1 abandonos cortos no contados (&lt; 5 s)" in detail
    level, value, _ = _tile(html, "facturas", "callbacks")
    assert (level, value) == ("ok", "1")
    assert re.fullmatch(r"&lt; \d+:\d\d", _tile(html, "facturas", "estimate")[1])
    assert _tile(html, "averias", "service_level")[:2] == ("none", "—")
    holds = html.split('data-panel="holds"', 1)[1].split("</article>", 1)[0]
    assert "1:30" in holds
    assert "Ana López" in holds
    assert "sin avisar" in holds
    agents = html.split('data-panel="agents"', 1)[1].split("</article>", 1)[0]
    assert re.search(r'data-state="busy"><span class="figure">1</span>', agents)
    assert re.search(r'data-state="offline"><span class="figure">2</span>', agents)
    promises = html.split('data-panel="promises"', 1)[1].split("</article>", 1)[0]
    assert "Llamada de vuelta" in promises  # the callback's promise, due within the hour


def test_the_tiles_follow_the_clock(
    sofia: TestClient, session: Session, users: dict[str, int], clock: FrozenClock
) -> None:
    _morning(session, users)
    before = sofia.get("/supervisor/wallboard/tiles").text
    assert "<html" not in before
    clock.advance(timedelta(hours=2))  # the callback is now overdue
    after = sofia.get("/supervisor/wallboard/tiles").text
    assert _tile(after, "facturas", "callbacks")[0] == "bad"
    assert 'data-panel="promises" data-level="bad"' in after


def test_the_supervisor_home_links_the_wallboard_in_both_languages(sofia: TestClient) -> None:
    page = sofia.get("/supervisor")
    assert page.status_code == 200
    assert "<h1>Supervisión</h1>" in page.text
    assert 'href="/supervisor/wallboard"' in page.text
    assert "Facturas y pagos" in page.text
    sofia.post("/language", data={"lang": "en", "next": "/", "csrf_token": csrf_from(page.text)})
    english = sofia.get("/supervisor").text
    assert "<h1>Supervisor</h1>" in english
    assert "Bills and payments" in english
    assert "Service level today" in english


def test_the_wallboard_stream_pushes_the_tiles(sofia: TestClient) -> None:
    got = b""
    with sofia.stream(
        "GET", "/supervisor/wallboard/events", headers={"accept": "text/event-stream"}
    ) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        for chunk in r.iter_bytes():
            got += chunk
            if b"\n\n" in got or len(got) > 500_000:
                break
    first = got.split(b"\n\n", 1)[0].decode()
    assert first.startswith("event: tiles\n")
    assert "Facturas y pagos" in first
    assert "Último cambio: 10:00:00" in first  # in the organisation's time zone


def test_agents_do_not_see_the_wallboard(app: FastAPI, users: dict[str, int]) -> None:
    with TestClient(app) as c:
        login(c, "ana", "escucha-demo")
        for path in ("/supervisor", "/supervisor/wallboard", "/supervisor/wallboard/events"):
            assert c.get(path).status_code == 403, path


def _alerts(html: str) -> dict[str, str]:
    """The alerts on the board: code -> sentence."""
    section = html.split('class="alerts"', 1)[1].split("</section>", 1)[0]
    return {
        code: re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", text)).strip()
        for code, text in re.findall(r'data-alert="(\w+)">(.*?)</p>', section, re.S)
    }


def test_the_wallboard_names_each_problem_in_words(
    sofia: TestClient, session: Session, users: dict[str, int], clock: FrozenClock
) -> None:
    assert _alerts(sofia.get("/supervisor/wallboard").text) == {
        "none": "✓ Ahora mismo nada requiere atención."
    }
    _morning(session, users)
    alerts = _alerts(sofia.get("/supervisor/wallboard").text)
    assert alerts["hold_not_announced"] == (
        "✕ Ana López tiene a un cliente en espera desde hace 1:30 sin haberle avisado"
    )
    assert (
        alerts["long_wait"]
        == "✕ Facturas y pagos: una persona lleva 0:45 esperando (objetivo 20 s)"
    )
    assert "callbacks_overdue" not in alerts
    clock.advance(timedelta(hours=2))  # the callback is overdue, and so is its promise
    alerts = _alerts(sofia.get("/supervisor/wallboard/tiles").text)
    assert (
        alerts["callbacks_overdue"]
        == "✕ Facturas y pagos: 1 rellamadas pasadas de la hora prometida"
    )
    assert alerts["promises_overdue"] == "✕ 1 promesas a clientes han pasado su plazo"


def test_the_full_screen_wallboard_has_no_navigation(sofia: TestClient) -> None:
    page = sofia.get("/supervisor/wallboard")
    assert 'href="/supervisor/wallboard?tv=1"' in page.text
    assert '<nav id="main-nav"' in page.text
    tv = sofia.get("/supervisor/wallboard?tv=1").text
    assert "<nav" not in tv
    assert 'class="wall tv"' in tv
    assert 'href="/supervisor/wallboard"' in tv  # the way back
