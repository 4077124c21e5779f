"""Structured JSON logs with request ids; phone numbers and email addresses never reach them."""

from __future__ import annotations

import json
import logging
import re
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from escucha.tickets.rules import parse_ticket_number

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")

# "%40" and "%2B": the same, percent-encoded in a logged URL's query.
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+(?:@|%40)[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_PHONE_ENCODED = re.compile(r"%2[Bb]\d(?:[\s.\-()]?\d){8,}")
# E.164 and national forms: 9 or more digits, maybe split by single spaces, dots, dashes or
# brackets. Times ("19:41") and versions stop a match, so dates with a clock time stay readable.
_PHONE = re.compile(r"(?<![\w.:])\+?\(?\d(?:[\s.\-()]?\d){8,}(?![\w.:])")
# A case number as escucha writes it (``2026-0000042-7``): kept when its check digit holds,
# so a log still says which case it is about.
_CASE_NUMBER = re.compile(r"(?<![\w.:+])\d{4}-\d{7,9}-\d(?![\w.:])")
_STANDARD = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}


def _is_case_number(text: str) -> bool:
    try:
        parse_ticket_number(text)
    except ValueError:
        return False
    return True


def _mask_phones(text: str) -> str:
    text = _PHONE_ENCODED.sub("<phone>", text)
    return _PHONE.sub("<phone>", text)


def mask(text: str) -> str:
    """Replace email addresses and phone numbers with placeholders; case numbers stay."""
    text = _EMAIL.sub("<email>", text)
    parts: list[str] = []
    start = 0
    for match in _CASE_NUMBER.finditer(text):
        if _is_case_number(match.group(0)):
            parts.append(_mask_phones(text[start : match.start()]))
            parts.append(match.group(0))
            start = match.end()
    parts.append(_mask_phones(text[start:]))
    return "".join(parts)


def _mask_value(value: Any) -> Any:
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {k: _mask_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask_value(v) for v in value]
    return value


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": mask(record.getMessage()),
            "request_id": request_id_var.get(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                payload[key] = _mask_value(value)
        if record.exc_info:
            payload["exc"] = mask(self.formatException(record.exc_info))
        return json.dumps(payload, default=str, ensure_ascii=False)


class MaskingTextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return mask(super().format(record))


def configure_logging(*, json_logs: bool, level: str) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter()
        if json_logs
        else MaskingTextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
