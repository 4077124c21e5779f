"""Where messages go: SMTP, Twilio SMS, a generic SMS webhook, or files for development."""

from __future__ import annotations

import json
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Any, Protocol

import httpx

from escucha.config import Settings


@dataclass(frozen=True)
class Outgoing:
    channel: str
    to: str
    subject: str
    body: str
    idempotency_key: str
    message_id: str


class Sender(Protocol):
    def send(self, msg: Outgoing) -> str:
        """Deliver ``msg``; return the provider's reference."""
        ...


class SmtpSender:
    def __init__(self, settings: Settings) -> None:
        self.host, self.port, self.sender = (
            settings.smtp_host,
            settings.smtp_port,
            settings.smtp_from,
        )

    def send(self, msg: Outgoing) -> str:
        email = EmailMessage()
        email["From"] = self.sender
        email["To"] = msg.to
        email["Subject"] = msg.subject
        email["Date"] = formatdate(localtime=False)
        email["Message-ID"] = msg.message_id
        email["Auto-Submitted"] = "auto-generated"
        email.set_content(msg.body)
        with smtplib.SMTP(self.host, self.port, timeout=20) as smtp:
            smtp.send_message(email)
        return msg.message_id


def twilio_rest_client(settings: Settings, *, timeout_s: float | None = None) -> Any:
    """Twilio's REST client for these settings (at ``ESCUCHA_TWILIO_API_URL`` when set)."""
    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client

    client = Client(
        settings.twilio_account_sid,
        settings.twilio_auth_token,
        http_client=TwilioHttpClient(timeout=timeout_s),
    )
    if settings.twilio_api_url:
        client.api.base_url = settings.twilio_api_url.rstrip("/")
    return client


class TwilioSmsSender:
    def __init__(self, settings: Settings) -> None:
        self.client = twilio_rest_client(settings)
        self.from_number = settings.twilio_from_number

    def send(self, msg: Outgoing) -> str:
        created = self.client.messages.create(to=msg.to, from_=self.from_number, body=msg.body)
        return str(created.sid)


class WebhookSmsSender:
    """POSTs ``{"to", "body", "idempotency_key"}`` as JSON, with an ``Idempotency-Key`` header."""

    def __init__(self, settings: Settings) -> None:
        self.url = settings.sms_webhook_url

    def send(self, msg: Outgoing) -> str:
        r = httpx.post(
            self.url,
            json={"to": msg.to, "body": msg.body, "idempotency_key": msg.idempotency_key},
            headers={"Idempotency-Key": msg.idempotency_key},
            timeout=20,
        )
        r.raise_for_status()
        return str(r.headers.get("x-message-id", msg.idempotency_key))


class FileSender:
    """Development: every message becomes a file in the outbox folder."""

    def __init__(self, settings: Settings) -> None:
        self.folder = Path(settings.outbox_dir)

    def send(self, msg: Outgoing) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in msg.idempotency_key)
        path = self.folder / f"{msg.channel}-{safe}.json"
        path.write_text(
            json.dumps(
                {"to": msg.to, "subject": msg.subject, "body": msg.body, "id": msg.message_id},
                ensure_ascii=False,
                indent=2,
            ),
            encoding="utf-8",
        )
        return str(path)


def sender_for(channel: str, settings: Settings) -> Sender:
    if channel == "email":
        return SmtpSender(settings) if settings.smtp_port else FileSender(settings)
    if settings.twilio_account_sid and settings.twilio_auth_token:
        return TwilioSmsSender(settings)
    if settings.sms_webhook_url:
        return WebhookSmsSender(settings)
    return FileSender(settings)
