"""Files a customer attaches on a web form: checked by what they are, not by their name (ADR 27).

A file is kept when its first bytes say it is one of :data:`ALLOWED` (PDF, PNG, JPEG, GIF,
WebP, plain UTF-8 text, an OpenDocument or Office Open XML document), whatever its name or the
type the browser declared; the type stored is the one sniffed. Anything else, an empty file, a
file over the size limit or past the number limit is *not kept* and said so to the customer
and, in the case's thread, to the agent: the case itself is always registered.
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from escucha.tickets import service
from escucha.tickets.models import Ticket, TicketAttachment, TicketMessage

MAX_FILES = 5
"""Files one form may attach."""

ALLOWED: dict[str, str] = {
    "application/pdf": "PDF",
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/gif": "GIF",
    "image/webp": "WebP",
    "text/plain; charset=utf-8": "text",
    "application/vnd.oasis.opendocument.text": "OpenDocument",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "Word",
}
"""The content types kept, sniffed from the bytes, with a name to show."""

_ODF_TEXT = b"application/vnd.oasis.opendocument.text"
_UNSAFE_NAME = re.compile(r"[^\w.\- ()]+")


@dataclass(frozen=True)
class Upload:
    """A file as the form sent it."""

    filename: str
    data: bytes


@dataclass(frozen=True)
class Refused:
    """A file that was not kept, and why (a short reason code)."""

    filename: str
    reason: str  # empty, too_large, too_many, type


def sniff(data: bytes) -> str | None:
    """The content type ``data`` is, when it is one of :data:`ALLOWED`; else ``None``."""
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"PK\x03\x04"):
        return _office(data)
    if b"\x00" not in data:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return None
        return "text/plain; charset=utf-8"
    return None


def _office(data: bytes) -> str | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if "mimetype" in names and archive.read("mimetype").strip() == _ODF_TEXT:
                return "application/vnd.oasis.opendocument.text"
            if "[Content_Types].xml" in names and "word/document.xml" in names:
                return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    except (zipfile.BadZipFile, OSError, ValueError, KeyError):
        return None
    return None


def safe_filename(name: str) -> str:
    """The base name of ``name`` with nothing but letters, digits and ``.-_ ()``."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE_NAME.sub("_", service.one_line(base, 200)).strip(" .")
    return cleaned or "file"


def keep_files(
    session: Session,
    ticket: Ticket,
    message: TicketMessage | None,
    uploads: list[Upload],
    *,
    now: datetime,
    max_bytes: int,
) -> tuple[list[TicketAttachment], list[Refused]]:
    """Attach the allowed files to ``ticket``; the rest are refused (noted in its thread)."""
    kept: list[TicketAttachment] = []
    refused: list[Refused] = []
    total = 0
    for up in uploads:
        name = safe_filename(up.filename)
        ctype = sniff(up.data) if up.data else None
        if not up.data:
            refused.append(Refused(name, "empty"))
        elif len(kept) >= MAX_FILES:
            refused.append(Refused(name, "too_many"))
        elif total + len(up.data) > max_bytes:
            refused.append(Refused(name, "too_large"))
        elif ctype is None:
            refused.append(Refused(name, "type"))
        else:
            total += len(up.data)
            att = TicketAttachment(
                ticket_id=ticket.id,
                message_id=message.id if message is not None else None,
                filename=name,
                content_type=ctype,
                size_bytes=len(up.data),
                sha256=hashlib.sha256(up.data).hexdigest(),
                data=up.data,
                created_at=now,
            )
            session.add(att)
            kept.append(att)
    if refused:
        detail = "; ".join(f"{r.filename}: {r.reason}" for r in refused)
        service.system_event(session, ticket, "attachments_dropped", now=now, detail=detail)
    session.flush()
    return kept, refused
