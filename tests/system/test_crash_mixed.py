"""SIGKILL the server and the worker at random moments under a mixed load, and restart them.

The load: calls through the API (some take a callback), complaints by the public web form and by
``POST /api/v1/complaints``, email through the SMTP listener, and bot agents taking every
contact. Every client retries what was not acknowledged with the same key, as a real one would
(the web form's ``form_key``, the ``Idempotency-Key`` header, the Message-ID, the call's
``provider_ref``). Afterwards: every acknowledged ticket, complaint, contact and callback exists
exactly once and nothing was created twice; every callback was made; every notification was
sent, one outbox file per idempotency key; every ticket and callback has its promises and none
is left pending past its due time after a sweep (P1, P2, P5, W2, W6).

SQLite: one process (``serve`` with its worker and ``--smtp-port``). PostgreSQL: the server and
the worker as separate processes.
"""

from __future__ import annotations

import json
import random
import re
import smtplib
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from escucha.auth import service as auth_service
from escucha.callbacks.models import Callback
from escucha.config import Settings
from escucha.contacts.models import Contact
from escucha.jobs import models as jobs
from escucha.notifications.models import Notification
from escucha.org.models import AgentProfile
from escucha.promises import service as promises
from escucha.promises.models import Promise
from escucha.tickets.models import InboundEmail, Ticket
from tests.conftest import PG_URL
from tests.factories import demo, make_user
from tests.system.conftest import (
    free_port,
    kill,
    server_env,
    start_server,
    start_worker,
    stop,
    wait_ready,
)

pytestmark = pytest.mark.system

SEED = 20261123
BOTS = 2
CALLS = 36
WEB = 10
API = 10
EMAILS = 10
OP_DEADLINE_S = 60.0
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_FORM_KEY = re.compile(r'name="form_key" value="([^"]+)"')
_NUMBER = re.compile(r'id="ticket-number">([0-9-]+)<')

T = TypeVar("T")


class NotYet(Exception):
    """The attempt was not acknowledged (a 5xx, a refused connection): try again."""


def _retry(attempt: Callable[[], T], deadline_s: float = OP_DEADLINE_S) -> T:
    """Repeat ``attempt`` until it is acknowledged, like a client whose server went away."""
    end = time.monotonic() + deadline_s
    while True:
        try:
            return attempt()
        except (NotYet, httpx.HTTPError, smtplib.SMTPException, OSError):
            if time.monotonic() > end:
                raise
            time.sleep(0.2)


def _ok(r: httpx.Response, *codes: int) -> httpx.Response:
    if r.status_code >= 500:
        raise NotYet(f"{r.status_code}: {r.text[:200]}")
    if r.status_code not in codes:
        raise AssertionError(f"unexpected {r.status_code}: {r.text[:500]}")
    return r


@dataclass
class Ledger:
    """What the clients were told (acknowledged), by key."""

    tickets: dict[str, str] = field(default_factory=dict)  # intake key -> number
    contacts: dict[str, int] = field(default_factory=dict)  # provider_ref -> contact id
    callbacks: dict[int, int] = field(default_factory=dict)  # origin contact -> callback id
    callback_unacked: set[int] = field(default_factory=set)  # registered, answer lost
    errors: list[str] = field(default_factory=list)


class Nodes:
    """The processes under test, killed and restarted by the chaos loop."""

    def __init__(self, settings: Settings, tmp: Path, *, separate_worker: bool) -> None:
        self.port, self.smtp_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = server_env(settings, self.port, ESCUCHA_JOB_LOCK_S="3")
        self.separate_worker = separate_worker
        self.server_log, self.worker_log = tmp / "server.log", tmp / "worker.log"
        self.server: subprocess.Popen[bytes] | None = None
        self.worker: subprocess.Popen[bytes] | None = None
        self.kills: Counter[str] = Counter()

    def start_server(self) -> None:
        args = ["--smtp-port", str(self.smtp_port)]
        if self.separate_worker:
            args.append("--no-worker")
        self.server = start_server(self.env, self.server_log, *args)
        wait_ready(self.url, self.server, self.server_log)

    def start_worker(self) -> None:
        if self.separate_worker:
            self.worker = start_worker(self.env, self.worker_log)

    def kill_server(self) -> None:
        assert self.server is not None
        kill(self.server)
        self.kills["server"] += 1
        if not self.separate_worker:
            self.kills["worker"] += 1  # the worker thread died with it

    def kill_worker(self) -> None:
        assert self.worker is not None
        kill(self.worker)
        self.kills["worker"] += 1

    def stop(self) -> None:
        for proc in (self.server, self.worker):
            if proc is not None:
                stop(proc)


def _call(http: httpx.Client, n: int, rng: random.Random, ledger: Ledger) -> None:
    ref = f"CRASH-{n}"

    def arrive() -> int:
        body = {"phone": f"6002{n:05d}", "provider_ref": ref}
        return int(_ok(http.post("/api/v1/contacts", json=body), 201).json()["id"])

    cid = _retry(arrive)
    ledger.contacts[ref] = cid

    def queue() -> bool:
        r = _ok(http.post(f"/api/v1/contacts/{cid}/queue", json={"queue": "facturas"}), 200, 409)
        return r.status_code == 200 and "position" in r.json()

    waiting = _retry(queue)
    if not waiting or rng.random() < 0.3:
        return

    def callback() -> None:
        r = _ok(http.post(f"/api/v1/contacts/{cid}/callback", json={}), 201, 409)
        if r.status_code == 201:
            ledger.callbacks[cid] = int(r.json()["id"])
            return
        # Refused: taken by an agent meanwhile, or an earlier attempt was registered and its
        # answer lost with the server.
        state = _ok(http.get(f"/api/v1/contacts/{cid}"), 200).json()["state"]
        if state == "callback":
            ledger.callback_unacked.add(cid)

    _retry(callback)


def _web_complaint(url: str, n: int, ledger: Ledger) -> None:
    with httpx.Client(base_url=url, timeout=10) as browser:

        def form() -> tuple[str, str]:
            page = _ok(browser.get("/complaints/new"), 200).text
            csrf, key = _CSRF.search(page), _FORM_KEY.search(page)
            assert csrf
            assert key
            return csrf.group(1), key.group(1)

        csrf, key = _retry(form)

        def submit() -> str:
            data = {
                "csrf_token": csrf,
                "form_key": key,
                "description": f"Me cobraron dos veces la factura {n}.",
                "subject": "Cobro duplicado",
                "name": f"Cliente web {n}",
                "email": f"web{n}@example.com",
                "phone": "",
            }
            _ok(browser.post("/complaints/new", data=data), 303)
            match = _NUMBER.search(_ok(browser.get("/complaints/done"), 200).text)
            assert match, "no number on the confirmation page"
            return match.group(1)

        ledger.tickets[f"web:{key}"] = _retry(submit)


def _api_complaint(http: httpx.Client, n: int, ledger: Ledger) -> None:
    key = f"crash-{n}"

    def submit() -> str:
        body = {"description": f"La avería {n} sigue sin arreglar.", "phone": f"6003{n:05d}"}
        r = _ok(http.post("/api/v1/complaints", json=body, headers={"Idempotency-Key": key}), 201)
        return str(r.json()["number"])

    ledger.tickets[f"api:{key}"] = _retry(submit)


def _email(smtp_port: int, n: int, ledger: Ledger) -> None:
    msg = EmailMessage()
    msg["From"] = f"Cliente {n} <mail{n}@example.com>"
    msg["To"] = "atencion@escucha.example"
    msg["Subject"] = f"Consulta sobre mi contrato {n}"
    msg["Message-ID"] = f"<crash-{SEED}-{n}@example.com>"
    msg.set_content(f"Hola, quisiera saber cuándo vence mi contrato número {n}.")
    raw = msg.as_bytes()

    def send() -> str:
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as smtp:
            smtp.ehlo()
            smtp.mail(f"mail{n}@example.com")
            smtp.rcpt("atencion@escucha.example")
            code, reply = smtp.data(raw)
        if code != 250:
            raise NotYet(f"{code} {reply!r}")
        return reply.decode().rsplit(" ", 1)[-1]

    ledger.tickets[msg["Message-ID"]] = _retry(send)


def _load(nodes: Nodes, tokens: dict[str, str], ledger: Ledger, done: threading.Event) -> None:
    rng = random.Random(SEED)
    plan = (
        [("call", n) for n in range(CALLS)]
        + [("web", n) for n in range(WEB)]
        + [("api", n) for n in range(API)]
        + [("email", n) for n in range(EMAILS)]
    )
    rng.shuffle(plan)
    headers = {"Authorization": f"Bearer {tokens['caller']}"}
    try:
        with httpx.Client(base_url=nodes.url, headers=headers, timeout=10) as http:
            for kind, n in plan:
                if kind == "call":
                    _call(http, n, rng, ledger)
                elif kind == "web":
                    _web_complaint(nodes.url, n, ledger)
                elif kind == "api":
                    _api_complaint(http, n, ledger)
                else:
                    _email(nodes.smtp_port, n, ledger)
                time.sleep(rng.uniform(0.0, 0.15))
    except Exception as exc:
        ledger.errors.append(f"load: {type(exc).__name__}: {exc}")
    finally:
        done.set()


def _bot(url: str, agent_id: int, token: str, stop_event: threading.Event, ledger: Ledger) -> None:
    """An agent who takes whatever is offered, talks a moment, wraps up and has a short rest
    (so that callers wait in line and some take a callback)."""
    rng = random.Random(agent_id)
    with httpx.Client(
        base_url=url, timeout=10, headers={"Authorization": f"Bearer {token}"}
    ) as http:
        while not stop_event.is_set():
            try:
                me = http.get("/api/v1/agents/me").json()
                cid = me["contact_id"]
                if cid is None:
                    if me["state"] != "available":
                        r = http.put(
                            f"/api/v1/agents/{agent_id}/state", json={"state": "available"}
                        )
                        cid = r.json().get("contact_id") if r.status_code == 200 else None
                    if cid is None:
                        time.sleep(0.1)
                        continue
                state = http.get(f"/api/v1/contacts/{cid}").json()["state"]
                if state == "offered":
                    http.post(f"/api/v1/agent/contacts/{cid}", json={"action": "answer"})
                time.sleep(rng.uniform(0.1, 0.4))
                r = http.post(
                    f"/api/v1/agent/contacts/{cid}",
                    json={"action": "wrap_up", "recap": "Atendido.", "next_state": "break"},
                )
                if r.status_code >= 500 and "internal_error" in r.text:
                    ledger.errors.append(f"bot {agent_id}: {r.text[:300]}")
                time.sleep(rng.uniform(0.2, 1.0))
            except (httpx.HTTPError, ValueError, KeyError):
                time.sleep(0.2)  # the server is down or restarting


def _arrange(session: Session) -> tuple[dict[str, str], dict[int, str]]:
    demo(session)
    bots: dict[int, str] = {}
    for n in range(BOTS):
        user = make_user(session, username=f"crashbot{n}", role="agent")
        session.add(AgentProfile(user_id=user.id, skills={"facturas": 2}, languages=["es"]))
        bots[user.id] = auth_service.create_token(session, user, "bot", now=datetime.now(UTC))
    ana = auth_service.authenticate(session, "ana", "escucha-demo")
    tokens = {"caller": auth_service.create_token(session, ana, "ivr", now=datetime.now(UTC))}
    session.commit()
    return tokens, bots


def _settled(session: Session) -> bool:
    session.expire_all()
    busy_contacts = session.scalar(
        select(func.count(Contact.id)).where(
            Contact.state.in_(("queued", "offered", "connected", "on_hold", "wrap_up"))
        )
    )
    open_callbacks = session.scalar(
        select(func.count(Callback.id)).where(Callback.state.in_(("pending", "offered", "dialing")))
    )
    unsent = session.scalar(
        select(func.count(Notification.id)).where(Notification.status != "sent")
    )
    return not busy_contacts and not open_callbacks and not unsent


def _run(settings: Settings, session: Session, tmp_path: Path, *, separate_worker: bool) -> None:
    tokens, bots = _arrange(session)
    nodes = Nodes(settings, tmp_path, separate_worker=separate_worker)
    ledger = Ledger()
    load_done, bots_stop = threading.Event(), threading.Event()
    chaos = random.Random(SEED + (1 if separate_worker else 0))
    nodes.start_server()
    nodes.start_worker()
    threads = [threading.Thread(target=_load, args=(nodes, tokens, ledger, load_done))] + [
        threading.Thread(target=_bot, args=(nodes.url, aid, tok, bots_stop, ledger))
        for aid, tok in bots.items()
    ]
    try:
        for t in threads:
            t.start()
        # 3+ kills of each process at random moments while the load runs.
        targets = ["server", "worker", "both", "both"] if separate_worker else ["server"] * 3
        chaos.shuffle(targets)
        for target in targets:
            time.sleep(chaos.uniform(0.5, 3.0))
            if target in ("worker", "both"):
                nodes.kill_worker()
            if target in ("server", "both"):
                nodes.kill_server()
                time.sleep(chaos.uniform(0.0, 0.5))
                nodes.start_server()
            if target in ("worker", "both"):
                nodes.start_worker()
        assert load_done.wait(OP_DEADLINE_S * 2), "the load did not finish"
        deadline = time.monotonic() + 45
        while not _settled(session) and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        bots_stop.set()
        for t in threads:
            t.join(15)
        nodes.stop()
    assert ledger.errors == []
    assert nodes.kills["server"] >= 3
    assert nodes.kills["worker"] >= 3
    _check(session, settings, ledger)


def _check(session: Session, settings: Settings, ledger: Ledger) -> None:
    session.expire_all()
    # Tickets: each intake acknowledged with its number, none created twice.
    assert len(ledger.tickets) == WEB + API + EMAILS
    tickets = session.scalars(select(Ticket)).all()
    assert len(tickets) == WEB + API + EMAILS
    by_number = {t.number: t for t in tickets}
    for key, number in ledger.tickets.items():
        ticket = by_number[number]
        if key.startswith(("web:", "api:")):
            # Stored as a hash of (channel, caller, key): never the client's key itself.
            assert ticket.request_key is not None
            assert re.fullmatch(r"[0-9a-f]{64}", ticket.request_key)
            assert ticket.kind == "complaint"
        else:
            inbound = session.scalar(select(InboundEmail).where(InboundEmail.message_key == key))
            assert inbound is not None
            assert inbound.ticket_id == ticket.id
    # Calls: one contact per provider reference.
    assert len(ledger.contacts) == CALLS
    api_contacts = session.scalars(select(Contact).where(Contact.provider == "api")).all()
    assert sorted(c.id for c in api_contacts) == sorted(ledger.contacts.values())
    assert all(c.state in ("ended", "callback") for c in api_contacts)
    # Callbacks: one per origin contact, every acknowledged one there, every one made.
    callbacks = session.scalars(select(Callback)).all()
    per_origin = Counter(cb.origin_contact_id for cb in callbacks)
    assert per_origin
    assert max(per_origin.values()) == 1
    acknowledged = {cb.origin_contact_id: cb.id for cb in callbacks}
    assert {k: acknowledged.get(k) for k in ledger.callbacks} == ledger.callbacks
    assert set(acknowledged) == set(ledger.callbacks) | ledger.callback_unacked
    assert len(callbacks) >= 3, "the load should have produced callbacks"
    for cb in callbacks:
        assert cb.state == "completed", (cb.id, cb.state)
        assert cb.attempts >= 1
        assert cb.first_attempt_at is not None
    # Notifications: each sent, one file per idempotency key, and one per callback and ticket.
    notes = session.scalars(select(Notification)).all()
    assert notes
    assert [n.idempotency_key for n in notes if n.status != "sent"] == []
    files = sorted(p.name for p in Path(settings.outbox_dir).glob("*.json"))
    expected = sorted(
        f"{n.channel}-{''.join(c if c.isalnum() or c in '-_' else '_' for c in n.idempotency_key)}"
        ".json"
        for n in notes
    )
    assert files == expected
    for path in Path(settings.outbox_dir).glob("*.json"):
        assert json.loads(path.read_text(encoding="utf-8"))["to"]
    keys = {n.idempotency_key for n in notes}
    assert {f"callback:{cb.id}:confirmation" for cb in callbacks} <= keys
    assert {f"ticket:{t.id}:ack" for t in tickets} <= keys
    sends = session.scalars(select(jobs.Job).where(jobs.Job.name == "notifications.send")).all()
    assert len(sends) == len(notes)
    assert {j.status for j in sends} == {jobs.DONE}
    assert session.scalars(select(jobs.Job).where(jobs.Job.status == jobs.FAILED)).all() == []
    # Promises: every ticket and callback has them, and they are consistent with what happened.
    for t in tickets:
        assert session.scalars(select(Promise).where(Promise.ticket_id == t.id)).all(), t.number
    for cb in callbacks:
        promise = session.get(Promise, cb.promise_id)
        assert promise is not None
        assert promise.callback_id == cb.id
        assert promise.state in ("kept", "broken")  # made: settled
    now = datetime.now(UTC)
    promises.sweep(session, now=now)
    overdue = session.scalars(
        select(Promise).where(Promise.state == "pending", Promise.due_at < now)
    ).all()
    assert overdue == []
    session.rollback()


@pytest.mark.skipif(bool(PG_URL), reason="the one-process variant runs on SQLite")
def test_one_process_on_sqlite_survives_sigkills(
    settings: Settings, session: Session, tmp_path: Path
) -> None:
    _run(settings, session, tmp_path, separate_worker=False)


@pytest.mark.skipif(not PG_URL, reason="the separate worker variant runs on PostgreSQL")
def test_server_and_worker_on_postgresql_survive_sigkills(
    settings: Settings, session: Session, tmp_path: Path
) -> None:
    _run(settings, session, tmp_path, separate_worker=True)
