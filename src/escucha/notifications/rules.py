"""The Message-ID of a message escucha sends, signed so that a reply can prove its thread."""

from __future__ import annotations

import hashlib
import hmac
import re

__pure__ = True  # the standard library only

_SIGNED = re.compile(r"^<notification-(\d{1,18})\.([0-9a-f]{24})@escucha>$")
SIGNED_IN_TEXT = re.compile(r"<notification-(\d{1,18})\.([0-9a-f]{24})@escucha>")


def _signature(notification_id: int, secret: str) -> str:
    mac = hmac.new(secret.encode(), f"notification-{notification_id}".encode(), hashlib.sha256)
    return mac.hexdigest()[:24]


def message_id_for(notification_id: int, secret: str) -> str:
    """``<notification-N.SIG@escucha>``: SIG is an HMAC of N with the server's secret, so
    nobody can forge the Message-ID of a message they did not receive."""
    return f"<notification-{notification_id}.{_signature(notification_id, secret)}@escucha>"


def signed_notification(message_id: str, secret: str) -> int | None:
    """The notification a Message-ID names, when its signature is ours; else ``None``."""
    match = _SIGNED.match(message_id.strip())
    if match is None:
        return None
    note_id = int(match.group(1))
    if not hmac.compare_digest(match.group(2), _signature(note_id, secret)):
        return None
    return note_id
