"""Helpers shared by the quality, survey, voice-of-the-customer and agent report screens:
times in the organisation's zone and number formatting for templates."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import HTMLResponse

from escucha.org import home
from escucha.web.render import render


def org_zone(db: Session) -> ZoneInfo:
    return home.zone(db)


def mmss(seconds: float | None) -> str:
    """``75.0`` -> ``"1:15"``; ``3725`` -> ``"1:02:05"``; ``None`` -> ``"—"``."""
    if seconds is None or math.isnan(seconds):
        return "—"
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def num(value: float | None, digits: int = 1) -> str:
    if value is None or math.isnan(value):
        return "—"
    return f"{value:.{digits}f}"


def page(
    request: Request,
    db: Session,
    name: str,
    context: dict[str, Any],
    status_code: int = 200,
) -> HTMLResponse:
    """``render`` with ``when`` (local date and time), ``mmss`` and ``num``."""
    zone = org_zone(db)

    def when(at: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        return "—" if at is None else at.astimezone(zone).strftime(fmt)

    helpers = {"when": when, "mmss": mmss, "num": num}
    return render(request, name, {**helpers, **context}, status_code=status_code)
