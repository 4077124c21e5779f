"""Customer messages with concrete times, Spanish and English (P1, P2, P3, C3, W6)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from escucha.errors import InvalidInput
from escucha.notifications.messages import (
    LANGUAGES,
    REQUIRED_FIELDS,
    VAGUE_PHRASES,
    Message,
    MessageKind,
    VaguePromiseError,
    find_vague_phrases,
    render_message,
    when_phrase,
)

MADRID = ZoneInfo("Europe/Madrid")
NOW = datetime(2026, 11, 20, 17, 0, tzinfo=UTC)  # Friday 18:00 in Madrid
DUE = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)  # Monday 10:30 in Madrid
NUMBER = "2026-0012345-1"
TIME = re.compile(r"\b([01]\d|2[0-4]):[0-5]\d\b")


def _render(kind: MessageKind | str, lang: str, **fields: Any) -> Message:
    """``kind`` in ``lang`` at :data:`NOW`, in Madrid's time."""
    return render_message(kind, lang, now=NOW, tz="Europe/Madrid", **fields)


def sample_fields(kind: MessageKind) -> dict[str, Any]:
    every: dict[str, Any] = {
        "number": NUMBER,
        "verification_code": "FX9DKE",
        "due": DUE,
        "status_url": "https://example.org/estado",
        "previous_due": NOW + timedelta(hours=1),
        "reason": "the technician is ill",
        "agreed": ["new router sent", "credit of 10 EUR"],
    }
    return {name: every[name] for name in REQUIRED_FIELDS[kind]}


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("kind", list(MessageKind))
def test_every_message_states_a_concrete_time_and_nothing_vague(
    kind: MessageKind, lang: str
) -> None:
    message = _render(kind, lang, **sample_fields(kind))
    assert message.kind is kind
    assert message.lang == lang
    assert message.subject
    for text in (message.body_text, message.sms_text):
        assert "10:30" in text, text
        assert TIME.search(text)
        assert not find_vague_phrases(text)
        folded = text.casefold()
        for phrases in VAGUE_PHRASES.values():
            for phrase in phrases:
                assert phrase not in folded
        if "number" in REQUIRED_FIELDS[kind]:
            assert NUMBER in text
    weekday = {
        "es": "lunes 23 de noviembre",
        "en": "Monday 23 November",
        "ca": "dilluns 23 de novembre",
    }[lang]
    assert weekday in message.body_text


def test_callback_confirmation_reads_like_the_examples() -> None:
    es = _render("callback_confirmation", "es", due=DUE)
    en = _render("callback_confirmation", "en", due=DUE)
    assert "Le llamaremos el lunes 23 de noviembre antes de las 10:30" in es.body_text
    assert "We will call you on Monday 23 November before 10:30" in en.body_text
    assert es.subject == "Le llamaremos el lunes 23 de noviembre antes de las 10:30"


def test_callback_window() -> None:
    message = _render(
        "callback_confirmation",
        "es",
        due=DUE,
        window_start=DUE - timedelta(minutes=30),
        phone="+34 600 000 000",
    )
    assert "el lunes 23 de noviembre entre las 10:00 y las 10:30 al +34 600 000 000" in (
        message.body_text
    )
    with pytest.raises(InvalidInput, match="window_start"):
        _render(
            "callback_confirmation",
            "es",
            due=DUE,
            window_start=DUE + timedelta(minutes=1),
        )


@pytest.mark.parametrize(
    ("due", "lang", "expected"),
    [
        (datetime(2026, 11, 20, 18, 0, tzinfo=UTC), "es", "hoy antes de las 19:00"),
        (datetime(2026, 11, 20, 18, 0, tzinfo=UTC), "en", "today before 19:00"),
        (datetime(2026, 11, 21, 9, 0, tzinfo=UTC), "es", "mañana antes de las 10:00"),
        (datetime(2026, 11, 21, 9, 0, tzinfo=UTC), "en", "tomorrow before 10:00"),
        (
            datetime(2026, 11, 23, 0, 30, tzinfo=UTC),
            "es",
            "el lunes 23 de noviembre antes de la 01:30",
        ),
        (
            datetime(2026, 11, 23, 12, 0, tzinfo=UTC),
            "es",
            "el lunes 23 de noviembre antes de las 13:00",
        ),
        # End of a working day at midnight: the day it ends, before 24:00.
        (
            datetime(2026, 12, 30, 23, 0, tzinfo=UTC),
            "es",
            "el miércoles 30 de diciembre antes de las 24:00",
        ),
        (datetime(2026, 12, 30, 23, 0, tzinfo=UTC), "en", "on Wednesday 30 December before 24:00"),
        (
            datetime(2027, 1, 7, 9, 0, tzinfo=UTC),
            "es",
            "el jueves 7 de enero de 2027 antes de las 10:00",
        ),
        (datetime(2027, 1, 7, 9, 0, tzinfo=UTC), "en", "on Thursday 7 January 2027 before 10:00"),
        # Seconds round up: never promise earlier than the due time.
        (datetime(2026, 11, 21, 9, 0, 1, tzinfo=UTC), "es", "mañana antes de las 10:01"),
    ],
)
def test_when_phrase(due: datetime, lang: str, expected: str) -> None:
    assert when_phrase(due, now=NOW, tz="Europe/Madrid", lang=lang) == expected


def test_times_are_in_the_customer_time_zone() -> None:
    due = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)
    assert when_phrase(due, now=NOW, tz="Europe/Madrid", lang="es") == "mañana antes de las 16:00"
    assert when_phrase(due, now=NOW, tz="America/Lima", lang="es-PE") == (
        "mañana antes de las 10:00"
    )
    # Late evening in Lima is still "today" there while it is already tomorrow in Madrid.
    late = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)
    assert when_phrase(late, now=NOW, tz="America/Lima", lang="es").startswith("hoy")
    assert when_phrase(late, now=NOW, tz="Europe/Madrid", lang="es").startswith("mañana")


def test_complaint_ack_asks_for_a_missing_description_and_still_gives_the_number() -> None:
    fields = sample_fields(MessageKind.COMPLAINT_ACK)
    for lang, ask in (("es", "descripción"), ("en", "description")):
        message = _render("complaint_ack", lang, description_missing=True, **fields)
        assert ask in message.body_text
        assert NUMBER in message.body_text
        assert NUMBER in message.subject
        plain = _render("complaint_ack", lang, **fields)
        assert ask not in plain.body_text


def test_wrapup_recap_lists_what_was_agreed() -> None:
    message = _render(
        "wrapup_recap",
        "es",
        due=DUE,
        agreed=["enviar un router nuevo", "abono de 10 EUR"],
        actions=["reinicie el router al recibirlo"],
        number=NUMBER,
    )
    assert "- enviar un router nuevo\n- abono de 10 EUR\n" in message.body_text
    assert "Próximos pasos:\n- reinicie el router al recibirlo" in message.body_text
    assert "enviar un router nuevo; abono de 10 EUR" in message.sms_text


def test_promise_change_says_why_and_the_new_date() -> None:
    message = _render(
        "promise_changed",
        "en",
        number=NUMBER,
        due=DUE,
        previous_due=NOW + timedelta(hours=1),
        reason="the part did not arrive.",
        label="the repair",
    )
    assert "we promised the repair today before 19:00" in message.body_text
    assert "Reason: the part did not arrive." in message.body_text
    assert "New date: on Monday 23 November before 10:30." in message.body_text


def test_vague_free_text_is_refused() -> None:
    with pytest.raises(VaguePromiseError, match="lo antes posible"):
        _render(
            "callback_rescheduled",
            "es",
            due=DUE,
            previous_due=NOW,
            reason="le llamaremos lo antes posible",
        )
    with pytest.raises(VaguePromiseError, match="shortly"):
        _render(
            "wrapup_recap",
            "en",
            due=DUE,
            agreed=["We'll fix it shortly"],
        )


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Le atenderemos en breve", ("en breve",)),
        ("LO ANTES POSIBLE", ("lo antes posible",)),
        ("a la mayor brevedad", ("a la mayor brevedad",)),
        ("We'll get back to you ASAP", ("asap",)),
        ("as soon as possible", ("as soon as possible", "soon")),
        ("mañana antes de las 10:00", ()),
        ("Soonest? no: on Monday 23 November before 10:30", ()),
    ],
)
def test_find_vague_phrases(text: str, found: tuple[str, ...]) -> None:
    assert find_vague_phrases(text) == found


@pytest.mark.parametrize(
    ("lang", "used"), [("es-PE", "es"), ("en_GB", "en"), ("EN", "en"), ("fr", "es"), ("", "es")]
)
def test_language_with_region_or_without_templates(lang: str, used: str) -> None:
    message = _render("callback_confirmation", lang, due=DUE)
    assert message.lang == used
    assert "10:30" in message.body_text


def test_input_errors() -> None:
    with pytest.raises(InvalidInput, match="needs: due"):
        _render("callback_confirmation", "es")
    with pytest.raises(InvalidInput, match="has passed"):
        _render("callback_confirmation", "es", due=NOW - timedelta(1))
    with pytest.raises(InvalidInput, match="timezone-aware"):
        _render(
            "callback_confirmation",
            "es",
            due=datetime(2026, 11, 23, 10, 30),  # noqa: DTZ001
        )
    with pytest.raises(InvalidInput, match="time zone"):
        render_message("callback_confirmation", "es", now=NOW, tz="Mars/Olympus", due=DUE)
    with pytest.raises(InvalidInput, match="reason"):
        _render(
            "callback_rescheduled",
            "es",
            due=DUE,
            previous_due=NOW,
            reason="  ",
        )
    with pytest.raises(ValueError, match="not a valid"):
        _render("postcard", "es", due=DUE)


@pytest.mark.parametrize(
    ("lang", "morning", "evening"),
    [("es", "Buenos días", "Buenas tardes"), ("en", "Good morning", "Good evening"),
     ("ca", "Bon dia", "Bona tarda")],
)  # fmt: skip
def test_messages_greet_by_the_hour_in_the_customer_zone(
    lang: str, morning: str, evening: str
) -> None:
    at_nine = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)  # 09:00 in Madrid
    early = render_message("callback_confirmation", lang, now=at_nine, tz="Europe/Madrid", due=DUE)
    late = _render("callback_confirmation", lang, due=DUE)  # 18:00 in Madrid
    assert early.body_text.startswith(f"{morning}:" if lang != "en" else f"{morning},")
    assert early.sms_text.startswith(f"{morning}. ")
    assert late.sms_text.startswith(f"{evening}. ")
    lima = render_message("callback_confirmation", lang, now=at_nine, tz="America/Lima", due=DUE)
    assert not lima.sms_text.startswith(f"{morning}.")  # 03:00 in Lima


def test_the_recap_sms_joins_sentences_without_doubled_stops() -> None:
    message = _render(
        "wrapup_recap",
        "es",
        due=DUE,
        agreed=["Revisada la factura de noviembre.", "Se anula el recargo si procede."],
    )
    assert "noviembre; Se anula el recargo si procede. Le contactaremos" in message.sms_text
    assert ".;" not in message.sms_text
    assert ".." not in message.sms_text


def test_a_catalan_message_reads_naturally() -> None:
    message = _render("callback_confirmation", "ca", due=DUE, number="2026-0000001-2")
    assert message.subject == "El trucarem el dilluns 23 de novembre abans de les 10:30"
    assert "Manté el seu torn" in message.sms_text
    assert "Cas 2026-0000001-2." in message.sms_text
