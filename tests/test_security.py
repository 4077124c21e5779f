"""Attackers' doors: the status page's rate limit, upload size limits, the Content Security
Policy of every page, and logs that never carry a phone number or an email address."""

from __future__ import annotations

import io
import json
import logging
import re
import smtplib
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from escucha.app import create_app
from escucha.auth import service as auth_service
from escucha.clock import FrozenClock
from escucha.config import Settings
from escucha.contacts.models import Contact
from escucha.jobs.service import run_due
from escucha.logs import configure_logging
from escucha.org import models as org
from escucha.qa.models import Transcript
from escucha.tickets import opening
from escucha.tickets.email import InboundSettings
from escucha.tickets.models import InboundEmail, Ticket
from escucha.tickets.smtp import start_smtp_listener
from tests.conftest import START, csrf_from, login
from tests.factories import caller, demo, make_user
from tests.system.conftest import free_port

# ADR 0008: only the chart pages (and their HTMX fragments) and the API reference, whose
# Swagger UI sets styles while drawing, may take inline styles.
CHART_PREFIXES = ("/planning", "/reports", "/api/v1/docs")
DOWNLOADS = ("/reports/live.html", "/static-charts/")


def _client(settings: Settings, clock: FrozenClock, **overrides: Any) -> TestClient:
    return TestClient(create_app(settings.model_copy(update=overrides), clock=clock))


def _directives(policy: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


# --- the status page -------------------------------------------------------------------------


def test_the_status_page_refuses_guessing_after_the_rate(
    settings: Settings, clock: FrozenClock, session: Session
) -> None:
    demo(session)
    opened = opening.file_complaint(
        session,
        opening.Intake(channel="web", description="Cobro indebido", email="r@example.es"),
        now=START,
        base_url="http://testserver",
    )
    number, code = opened.ticket.number, opened.ticket.verification_code
    session.commit()
    with _client(settings, clock, status_rate_per_min=3) as client:
        csrf = csrf_from(client.get("/status").text)
        for guess in ("AAAAAA", "BBBBBB", "CCCCCC"):
            r = client.post("/status", data={"csrf_token": csrf, "number": number, "code": guess})
            assert r.status_code == 404
        # Over the rate, even the right code is refused: guessing cannot go on.
        right = {"csrf_token": csrf, "number": number, "code": code}
        assert client.post("/status", data=right, follow_redirects=False).status_code == 429
        clock.advance(61)
        r = client.post("/status", data=right, follow_redirects=False)
        assert r.status_code == 303
        assert r.headers["location"] == "/status/view"


# --- upload sizes ----------------------------------------------------------------------------


def test_an_org_file_over_the_limit_is_refused_and_nothing_is_applied(
    settings: Settings, clock: FrozenClock, session: Session
) -> None:
    demo(session)
    admin = auth_service.authenticate(session, "admin", "escucha-admin")
    token = auth_service.create_token(session, admin, "t", now=START, scope="admin")
    headers = {"Authorization": f"Bearer {token}"}
    session.commit()
    text = tickets_demo_with_queue("intrusa")
    with _client(settings, clock, max_upload_bytes=len(text.encode()) + 100) as client:
        padded = text + "#" * 200 + "\n"  # the same file with a comment past the limit
        r = client.post("/api/v1/org/apply", content=padded.encode(), headers=headers)
        assert r.status_code == 413  # refused by its length, before the body is read
        assert "bytes" in r.json()["detail"]
        assert session.scalar(select(org.Queue).where(org.Queue.name == "intrusa")) is None
        # without a Content-Length (chunked), the body is still cut at the limit
        chunks = iter([padded.encode()[:1000], padded.encode()[1000:]])
        r = client.post("/api/v1/org/apply", content=chunks, headers=headers)
        assert r.status_code == 413
        assert session.scalar(select(org.Queue).where(org.Queue.name == "intrusa")) is None
        r = client.post("/api/v1/org/apply", content=text.encode(), headers=headers)
        assert r.status_code == 200, r.text
    session.expire_all()
    assert session.scalar(select(org.Queue).where(org.Queue.name == "intrusa")) is not None


def tickets_demo_with_queue(name: str) -> str:
    from escucha.cli.serve import DEMO_ORG

    text = DEMO_ORG.read_text(encoding="utf-8")
    extra = f"  - name: {name}\n    team: atencion\n    skills: {{facturas: 1}}\n"
    return text.replace("queues:\n", "queues:\n" + extra, 1)


def test_a_planning_upload_over_the_limit_is_refused(
    settings: Settings, clock: FrozenClock, session: Session
) -> None:
    make_user(session, username="sup", role="supervisor")
    session.commit()
    with _client(settings, clock, max_upload_bytes=1000) as client:
        assert login(client, "sup", "correct-horse-battery").status_code == 303
        csrf = csrf_from(client.get("/planning").text)
        big = b"interval_start,calls\n" + b"2026-11-02T09:00:00Z,12\n" * 5000  # ~120 kB
        r = client.post(
            "/planning/day",
            data={"csrf_token": csrf},
            files={"history": ("big.csv", big, "text/csv")},
            headers={"HX-Request": "true"},
        )
        # past the limit and the form's framing: refused before the form (and its file) is read
        assert r.status_code == 413
        assert "bytes" in r.text
        # within the framing allowance, from the page's script (the token in a header): the
        # page's own check refuses the file
        medium = b"interval_start,calls\n" + b"2026-11-02T09:00:00Z,12\n" * 1000  # ~24 kB
        r = client.post(
            "/planning/day",
            files={"history": ("big.csv", medium, "text/csv")},
            headers={"HX-Request": "true", "X-CSRF-Token": csrf},
        )
        assert "1000 bytes" in r.text
        assert 'id="day-shifts"' not in r.text


def test_an_email_over_the_size_limit_is_refused_before_it_is_stored(
    settings: Settings,
    session: Session,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
) -> None:
    demo(session)
    session.commit()
    listener = start_smtp_listener(
        settings,
        host="127.0.0.1",
        port=free_port(),
        session_factory=session_factory,
        clock=clock,
        limits=InboundSettings(max_message_bytes=5000),
    )
    try:
        msg = EmailMessage()
        msg["From"] = "grande@example.es"
        msg["To"] = "atencion@example.es"
        msg["Subject"] = "Adjunto enorme"
        msg.set_content("x" * 20_000)
        with (
            smtplib.SMTP(listener.host, listener.port, timeout=10) as smtp,
            pytest.raises(smtplib.SMTPException) as refused,
        ):
            smtp.send_message(msg)
        codes = [getattr(refused.value, "smtp_code", None)]
        codes += [c for c, _m in getattr(refused.value, "recipients", {}).values()]
        assert 552 in codes
        small = EmailMessage()
        small["From"] = "breve@example.es"
        small["To"] = "atencion@example.es"
        small["Subject"] = "Consulta"
        small.set_content("¿Cuándo leen el contador?")
        with smtplib.SMTP(listener.host, listener.port, timeout=10) as smtp:
            smtp.send_message(small)
    finally:
        listener.stop()
    senders = session.scalars(select(InboundEmail.sender)).all()
    assert senders == ["breve@example.es"]


# --- the Content Security Policy ------------------------------------------------------------


def _html_gets(app: FastAPI) -> list[str]:
    paths = []
    for ctx in iter_route_contexts(app.routes):
        route = ctx.original_route
        path = str(ctx.path)
        if not isinstance(route, APIRoute) or "GET" not in (route.methods or ()):
            continue
        if route.include_in_schema or "{" in path:
            continue
        paths.append(path)
    return sorted(set(paths))


def test_every_page_has_a_policy_without_inline_scripts(
    settings: Settings, clock: FrozenClock, session: Session
) -> None:
    demo(session)
    contact = caller(session, START, "600111333")
    session.add(
        Transcript(
            contact_id=contact.id,
            format="text",
            raw_text="AGENTE: Hola.\nCLIENTE: Hola.",
            created_at=START,
        )
    )
    opened = opening.open_ticket(
        session,
        opening.Intake(channel="web", description="Sin agua", email="csp@example.es"),
        now=START,
        base_url="http://testserver",
    )
    make_user(session, username="boss", role="admin")
    session.commit()
    with _client(settings, clock) as client:
        # the customer's pages first (no login): the form, the number, the case
        form = client.get("/complaints/new")
        client.post(
            "/complaints/new",
            data={"csrf_token": csrf_from(form.text), "description": "Me cortaron el agua"},
        )
        public = ["/complaints/new", "/complaints/done", "/status", "/status/view", "/login"]
        responses = [(path, client.get(path, follow_redirects=False)) for path in public]
        assert login(client, "boss", "correct-horse-battery").status_code == 303
        with_ids = [f"/tickets/{opened.ticket.id}", f"/qa/contacts/{contact.id}"]
        for path in [*_html_gets(client.app), *with_ids]:  # type: ignore[arg-type]
            if not path.startswith(DOWNLOADS):
                responses.append((path, client.get(path, follow_redirects=False)))
        checked: dict[str, str] = {}
        for path, r in responses:
            if r.status_code != 200 or "text/html" not in r.headers.get("content-type", ""):
                continue
            policy = r.headers.get("content-security-policy")
            assert policy, f"{path} has no Content-Security-Policy"
            directives = _directives(policy)
            assert directives.get("script-src") == ["'self'"], path
            assert "'unsafe-eval'" not in policy, path
            assert directives.get("object-src") == ["'none'"], path
            assert directives.get("frame-ancestors") == ["'none'"], path
            if "'unsafe-inline'" in directives.get("style-src", []):
                assert path.startswith(CHART_PREFIXES), f"{path} allows inline styles"
            assert r.headers["x-content-type-options"] == "nosniff"
            checked[path] = policy
    assert {*public, *with_ids} <= set(checked)
    assert len(checked) > 30
    assert any("'unsafe-inline'" in p for p in checked.values())  # the chart pages


# --- logs ------------------------------------------------------------------------------------

PHONES = ("612345678", "622111333", "633444555", "644555666", "655443322", "677889900")
EMAILS = ("lucia.gomez@example.es", "marcos@example.org", "pedro.sanz@example.es")


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    """The production JSON logging, written to a buffer; restored afterwards."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    uvicorn = {
        n: (logging.getLogger(n).handlers[:], logging.getLogger(n).propagate)
        for n in (
            "uvicorn",
            "uvicorn.error",
            "uvicorn.access",
        )
    }
    buffer = io.StringIO()
    configure_logging(json_logs=True, level="INFO")
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(buffer)
    try:
        yield buffer
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
        for name, (handlers, propagate) in uvicorn.items():
            logging.getLogger(name).handlers[:] = handlers
            logging.getLogger(name).propagate = propagate


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def test_logs_of_real_requests_carry_no_phone_or_email(
    settings: Settings,
    clock: FrozenClock,
    session: Session,
    session_factory: sessionmaker[Session],
    captured_logs: io.StringIO,
) -> None:
    demo(session)
    ana = auth_service.authenticate(session, "ana", "escucha-demo")
    token = auth_service.create_token(session, ana, "ivr", now=START)
    session.commit()
    bearer = {"Authorization": f"Bearer {token}"}
    cfg = settings.model_copy(
        update={"twilio_auth_token": "secret-token", "base_url": "https://ayuda.example"}
    )
    with TestClient(create_app(cfg, clock=clock), raise_server_exceptions=False) as client:
        # a complaint by the web form
        form = client.get("/complaints/new")
        r = client.post(
            "/complaints/new",
            data={
                "csrf_token": csrf_from(form.text),
                "description": f"Llámenme al 612 345 678 o escriban a {EMAILS[0]}",
                "name": "Lucía Gómez",
                "email": EMAILS[0],
                "phone": "612 345 678",
            },
        )
        assert r.status_code == 200
        # a complaint by the API, and a refused one (the error names the bad value)
        r = client.post(
            "/api/v1/complaints",
            json={"description": "Sin agua", "phone": "+34 622 111 333", "email": EMAILS[1]},
            headers=bearer,
        )
        assert r.status_code == 201
        r = client.post("/api/v1/contacts", json={"phone": "6334445559999"}, headers=bearer)
        assert r.status_code == 422
        # a call through the API that takes a callback to another number
        c = client.post("/api/v1/contacts", json={"phone": "633444555"}, headers=bearer).json()
        client.post(f"/api/v1/contacts/{c['id']}/queue", json={"queue": "facturas"}, headers=bearer)
        r = client.post(
            f"/api/v1/contacts/{c['id']}/callback", json={"phone": "644 555 666"}, headers=bearer
        )
        assert r.status_code == 201, r.text
        # a login with an address as the user name, and a forged Twilio webhook
        page = client.get("/login")
        client.post(
            "/login",
            data={"username": EMAILS[2], "password": "x", "csrf_token": csrf_from(page.text)},
        )
        r = client.post(
            "/telephony/twilio/voice?From=%2B34655443322&Note=pedro.sanz%40example.es",
            data={"From": "+34655443322", "CallSid": "CA1"},
            headers={"X-Twilio-Signature": "forged"},
        )
        assert r.status_code == 403
    # an email in through the SMTP listener
    listener = start_smtp_listener(
        settings, host="127.0.0.1", port=free_port(), session_factory=session_factory, clock=clock
    )
    try:
        msg = EmailMessage()
        msg["From"] = f"Pedro Sanz <{EMAILS[2]}>"
        msg["To"] = "atencion@example.es"
        msg["Subject"] = "Mi teléfono es 677 889 900"
        msg.set_content("Llámenme al 677889900.")
        with smtplib.SMTP(listener.host, listener.port, timeout=10) as smtp:
            smtp.send_message(msg)
    finally:
        listener.stop()
    # and the worker sending what they caused
    assert run_due(session_factory, settings, clock) > 0
    assert session.scalar(select(func.count(Ticket.id))) == 3
    assert session.scalar(select(func.count(Contact.id))) >= 2

    text = captured_logs.getvalue()
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    routes = {entry.get("route") for entry in lines}
    # (API routes are labelled without their /api/v1 prefix)
    assert {"/complaints/new", "/complaints", "/contacts", "/telephony/twilio/voice"} <= routes
    assert any(entry.get("msg") == "inbound email" for entry in lines)
    assert any("<phone>" in line or "<email>" in line for line in text.splitlines())
    numbers = {_digits(run) for run in _NUMBERISH.findall(text)}
    for phone in PHONES:
        assert not any(phone in n for n in numbers), f"{phone} is in the logs"
    for email in EMAILS:
        assert email not in text
    assert "@example." not in text
    assert "%40example." not in text


# A number as people write it, maybe with a (percent-encoded) plus and single separators.
_NUMBERISH = re.compile(r"(?:%2B|\+)?\d(?:[\s.\-()/]?\d)*", re.IGNORECASE)


# --- a flood of requests ---------------------------------------------------------------------


def test_no_more_requests_enter_than_connections_and_threads_allow(settings: Settings) -> None:
    """A flood cannot stall the server: requests past the limit wait at the door, holding no
    connection; a server-sent event stream leaves the count once its headers are out."""
    import asyncio

    from escucha.admission import Admission, Lanes
    from escucha.db.engine import make_engine

    engine = make_engine(settings)
    try:
        lanes = Lanes.for_engine(engine)
        pool = engine.pool
        connections = pool.size() + pool._max_overflow  # type: ignore[attr-defined]
        assert lanes.calls >= 1
        assert lanes.others >= 1
        assert lanes.calls + 2 * lanes.others + 1 < connections
        assert lanes.calls + lanes.others <= 40
    finally:
        engine.dispose()

    holding = running = peak_holding = peak_running = 0

    async def app(scope: Any, receive: Any, send: Any) -> None:
        nonlocal holding, running, peak_holding, peak_running
        stream = scope["path"] == "/sse"
        holding, running = holding + 1, running + 1
        peak_holding, peak_running = max(peak_holding, holding), max(peak_running, running)
        kind = b"text/event-stream" if stream else b"text/html"
        start = {"type": "http.response.start", "status": 200, "headers": [(b"content-type", kind)]}
        await send(start)
        if stream:
            holding -= 1  # the door lets the next one in once a stream's headers are out
        await asyncio.sleep(0.2 if stream else 0.01)
        holding -= 0 if stream else 1
        running -= 1
        await send({"type": "http.response.body", "body": b""})

    async def flood() -> None:
        door = Admission(app, Lanes(calls=3, others=3, wait_s=30))

        async def noop(_message: Any) -> None:
            return None

        async def request(path: str) -> None:
            await door({"type": "http", "path": path}, noop, noop)

        paths = ["/sse"] * 5 + ["/"] * 30
        await asyncio.gather(*(request(path) for path in paths))

    asyncio.run(flood())
    assert peak_holding == 3
    assert peak_running > 3  # the streams did not keep the others out
