"""A call in the caller's language: greeting by the hour, a language menu, Catalan speech."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from escucha.contacts.models import Contact
from escucha.notifications.messages import at_phrase, when_phrase
from escucha.telephony import calls as tel
from escucha.telephony import rules as R
from tests.conftest import START
from tests.factories import demo

PHONE = "600111333"


def _said(turn: R.Turn) -> str:
    return " ".join(s.text for s in turn.texts())


def _call(session: Session, now: datetime, ref: str = "c1") -> R.Turn:
    return tel.incoming_call(
        session, provider="browser", call_ref=ref, from_number=PHONE, now=now, language="es"
    )


def test_the_greeting_follows_the_hour_in_madrid(session: Session) -> None:
    demo(session)
    morning = _said(_call(session, START, "m"))  # 10:00 in Madrid
    afternoon = _said(_call(session, datetime(2026, 11, 23, 13, 38, tzinfo=UTC), "a"))
    night = _said(_call(session, datetime(2026, 11, 23, 21, 30, tzinfo=UTC), "n"))
    assert morning.startswith("Aguas del Manzanares, buenos días.")
    assert afternoon.startswith("Aguas del Manzanares, buenas tardes.")  # 14:38
    assert night.startswith("Aguas del Manzanares, buenas noches.")  # 22:30
    assert "{greeting}" not in morning + afternoon + night


def test_a_menu_option_switches_the_rest_of_the_call_to_catalan(session: Session) -> None:
    demo(session)
    first = _call(session, START)
    assert "Para otro idioma, pulse 6." in _said(first)
    menu = tel.caller_input(session, "browser", "c1", now=START, digits="6", seq=first.seq)
    assert "Para catalán, pulse 2." in _said(menu)
    switched = tel.caller_input(session, "browser", "c1", now=START, digits="2", seq=menu.seq)
    said = _said(switched)
    assert "Per a factures, premi el 2." in said
    assert "Per parlar amb una persona, premi el 0." in said
    assert all(s.language == "ca" for s in switched.texts())
    queued = tel.caller_input(session, "browser", "c1", now=START, digits="2", seq=switched.seq)
    contact = tel.find_call(session, "browser", "c1")
    assert isinstance(contact, Contact)
    assert contact.language == "ca"
    assert all(s.language == "ca" for s in queued.texts())
    words = _said(queued)
    assert "El passem amb una persona." in words or "davant seu" in words or "atesa" in words


def test_catalan_times_are_said_in_words_and_written_in_figures() -> None:
    now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    due = now + timedelta(days=1, hours=5, minutes=15)  # Tuesday 15:15 in Madrid
    tz = "Europe/Madrid"
    said = when_phrase(due, now=now, tz=tz, lang="ca", speech=True)
    written = when_phrase(due, now=now, tz=tz, lang="ca")
    assert said == "demà abans de les tres i quart de la tarda"
    assert written == "demà abans de les 15:15"
    assert when_phrase(due, now=now, tz=tz, lang="es", speech=True) == "mañana antes de las 15:15"
    opens = at_phrase(now + timedelta(days=2, hours=-2), now=now, tz=tz, lang="ca", speech=True)
    assert opens == "el dimecres 25 de novembre a les vuit del matí"


def test_a_call_when_the_ivr_is_closed_hears_why(session: Session) -> None:
    demo(session)
    christmas_eve = datetime(2026, 12, 24, 10, 0, tzinfo=UTC)  # the IVR's closed date
    said = _said(_call(session, christmas_eve, "x"))
    assert said.startswith(
        "Aguas del Manzanares, buenos días. Hoy estamos cerrados por Nochebuena."
    )
    assert "Ahora la oficina está cerrada." in said
    evening = _said(_call(session, datetime(2026, 11, 23, 20, 30, tzinfo=UTC), "e"))
    assert "cerrados por" not in evening  # closed for the night: no holiday to name
    assert "Ahora la oficina está cerrada." in evening
