"""Senders: SMTP against a real server, the SMS webhook against a local HTTP server, files."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from escucha.clock import FrozenClock
from escucha.config import Settings
from escucha.contacts import service as contacts
from escucha.jobs.service import run_due
from escucha.notifications import service as notifications
from escucha.notifications.models import Notification
from escucha.notifications.senders import (
    FileSender,
    Outgoing,
    SmtpSender,
    WebhookSmsSender,
    sender_for,
)
from tests.conftest import START
from tests.tickets.helpers import smtp_sink

MESSAGE = Outgoing(
    channel="email",
    to="rosa@example.es",
    subject="Su caso 2026-0000001-2",
    body="Le llamaremos mañana antes de las 10:30.\nCódigo: QX7M3T",
    idempotency_key="ticket:1:ack",
    message_id="<notification-1@escucha>",
)


def test_email_goes_through_a_real_smtp_conversation(settings: Settings) -> None:
    with smtp_sink() as (port, sink):
        cfg = settings.model_copy(update={"smtp_port": port, "smtp_from": "hola@aguas.example"})
        ref = SmtpSender(cfg).send(MESSAGE)
    assert ref == "<notification-1@escucha>"
    assert len(sink.messages) == 1
    got = sink.messages[0]
    assert sink.rcpt == [["rosa@example.es"]]
    assert got["From"] == "hola@aguas.example"
    assert got["Subject"] == MESSAGE.subject
    assert got["Message-ID"] == "<notification-1@escucha>"
    assert got["Auto-Submitted"] == "auto-generated"
    assert got.get_content().replace("\r\n", "\n").strip() == MESSAGE.body


class _Hook(BaseHTTPRequestHandler):
    received: list[dict[str, Any]]
    fail_next: list[bool]

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length))
        self.received.append(
            {
                "key": self.headers.get("Idempotency-Key"),
                "type": self.headers.get("Content-Type"),
                "path": self.path,
                "body": body,
            }
        )
        if self.fail_next and self.fail_next.pop():
            self.send_response(503)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("X-Message-Id", f"sms-{len(self.received)}")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]], list[bool]]]:
    received: list[dict[str, Any]] = []
    fail_next: list[bool] = []
    handler = type("Hook", (_Hook,), {"received": received, "fail_next": fail_next})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/sms", received, fail_next
    finally:
        server.shutdown()
        server.server_close()


def test_sms_goes_to_the_webhook_with_an_idempotency_key_and_json(
    settings: Settings, webhook: tuple[str, list[dict[str, Any]], list[bool]]
) -> None:
    url, received, _ = webhook
    cfg = settings.model_copy(update={"sms_webhook_url": url})
    sender = sender_for("sms", cfg)
    assert isinstance(sender, WebhookSmsSender)
    sms = Outgoing("sms", "+34600111222", "", "Caso 2026-0000001-2", "ticket:1:ack", "<n-1>")
    assert sender.send(sms) == "sms-1"
    assert received == [
        {
            "key": "ticket:1:ack",
            "type": "application/json",
            "path": "/sms",
            "body": {
                "to": "+34600111222",
                "body": "Caso 2026-0000001-2",
                "idempotency_key": "ticket:1:ack",
            },
        }
    ]


def test_a_failing_webhook_is_retried_by_the_job_and_the_state_is_kept(
    settings: Settings,
    session: Session,
    session_factory: sessionmaker[Session],
    webhook: tuple[str, list[dict[str, Any]], list[bool]],
) -> None:
    url, received, fail_next = webhook
    cfg = settings.model_copy(update={"sms_webhook_url": url})
    customer = contacts.find_or_create_customer(session, now=START, phone="+34600111222")
    note = notifications.notify(
        session,
        customer,
        "callback_confirmation",
        now=START,
        key="cb:1",
        due=START + timedelta(hours=2),
    )
    session.commit()
    fail_next.append(True)
    clock = FrozenClock(START)
    run_due(session_factory, cfg, clock)
    session.expire_all()
    pending = session.get(Notification, note.id)
    assert pending is not None
    assert pending.status == "pending"
    clock.advance(timedelta(minutes=5))
    run_due(session_factory, cfg, clock)
    session.expire_all()
    sent = session.get(Notification, note.id)
    assert sent is not None
    assert sent.status == "sent"
    assert sent.provider_ref == "sms-2"
    assert [r["key"] for r in received] == ["cb:1", "cb:1"]  # the same key on the retry


def test_without_providers_messages_become_files(settings: Settings, tmp_path: Path) -> None:
    cfg = settings.model_copy(update={"outbox_dir": tmp_path / "out"})
    for channel in ("email", "sms"):
        assert isinstance(sender_for(channel, cfg), FileSender)
    path = Path(FileSender(cfg).send(MESSAGE))
    assert path.parent == tmp_path / "out"
    assert path.name == "email-ticket_1_ack.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data == {
        "to": "rosa@example.es",
        "subject": MESSAGE.subject,
        "body": MESSAGE.body,
        "id": "<notification-1@escucha>",
    }
