"""Why a calendar is closed and when it opens, as a caller is told (day one)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha.org import models as org
from escucha.promises import service as promises
from tests.factories import demo


def _office(session: Session) -> int:
    demo(session)
    cal = session.scalar(select(org.Calendar).where(org.Calendar.name == "oficina"))
    assert cal is not None
    return cal.id


def test_a_holiday_is_named_in_the_callers_language(session: Session) -> None:
    office = _office(session)
    at = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
    closed = promises.closed_now(session, office, at, lang="es")
    assert closed.reason == "Inmaculada Concepción"
    assert closed.opens_at == datetime(2026, 12, 9, 7, 0, tzinfo=UTC)  # 08:00 in Madrid
    assert promises.closed_now(session, office, at, lang="en").reason == "Immaculate Conception"


def test_a_closure_is_named_and_an_evening_has_no_name(session: Session) -> None:
    office = _office(session)
    eve = promises.closed_now(session, office, datetime(2026, 12, 24, 10, 0, tzinfo=UTC))
    assert eve.reason == "Nochebuena"
    # Christmas is a holiday too: the office opens on Saturday 26 December at 09:00.
    assert eve.opens_at == datetime(2026, 12, 26, 8, 0, tzinfo=UTC)
    evening = promises.closed_now(session, office, datetime(2026, 12, 14, 20, 30, tzinfo=UTC))
    assert evening.reason is None
    assert evening.opens_at == datetime(2026, 12, 15, 7, 0, tzinfo=UTC)
