"""The call script without a database (W1, W2, W6)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from escucha.ivr.service import example_path, load_ivr
from escucha.telephony import rules as R

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def test_the_first_pass_of_the_wait_loop_announces_and_then_every_interval() -> None:
    assert R.should_announce(None, NOW, 30)
    assert not R.should_announce(NOW, NOW + timedelta(seconds=29.9), 30)
    assert R.should_announce(NOW, NOW + timedelta(seconds=30), 30)


def test_a_wait_pass_listens_briefly_then_comes_back() -> None:
    said = (R.Say("Hay 2 personas delante de usted.", "es"),)
    actions = R.wait_actions(said, "es", pause_s=2.0)
    gather, poll = actions
    assert isinstance(gather, R.Gather)
    assert gather.kind == "wait"
    assert gather.prompts == said
    assert gather.pause_s == 2.0
    assert gather.timeout_s <= 2.0  # the line never holds a caller long between passes
    assert isinstance(poll, R.Poll)


@pytest.mark.parametrize(
    ("digits", "speech", "lang", "expected"),
    [
        ("1", None, "es", True),
        ("2", None, "es", False),
        (None, "Llámenme, por favor", "es", True),
        (None, "please call me back", "en", True),
        (None, "sigo esperando", "es", False),
        (None, None, "es", False),
    ],
)
def test_the_caller_asks_for_a_callback_by_key_or_words(
    digits: str | None, speech: str | None, lang: str, expected: bool
) -> None:
    assert R.wants_callback(digits, speech, lang) is expected


@pytest.mark.parametrize(
    ("digits", "speech", "lang", "expected"),
    [
        ("1", None, "es", "callback"),
        ("2", None, "es", "voicemail"),
        ("5", None, "es", None),
        (None, "quiero dejar un mensaje", "es", "voicemail"),
        (None, "llámenme mañana", "es", "callback"),
        (None, "two", "en", "voicemail"),
        (None, "no sé", "es", None),
    ],
)
def test_the_closed_queue_choice(
    digits: str | None, speech: str | None, lang: str, expected: str | None
) -> None:
    assert R.closed_choice(digits, speech, lang) == expected


def test_the_closed_offer_states_a_time_or_only_the_message() -> None:
    with_time = R.closed_prompt("es", "mañana antes de las 8:45")
    assert "mañana antes de las 8:45" in with_time
    assert "pulse 1" in with_time
    assert "pulse 2" in with_time
    without = R.closed_prompt("en", None)
    assert "press 1" not in without
    assert "press 2" in without
    for text in (with_time, without):
        assert "antes posible" not in text
        assert "as soon as possible" not in text


def test_sentences_in_spanish_and_english_and_speech_tags() -> None:
    assert R.phrase("connect", "es") != R.phrase("connect", "en")
    assert R.phrase("callback_taken", "en-GB", when="today before 10:30").startswith(
        "We will call you back today before 10:30"
    )
    assert R.phrase("connect", "fr") == R.phrase("connect", "en")
    assert R.speech_language("es") == "es-ES"
    assert R.speech_language("en") == "en-GB"
    for name in R.PHRASES["es"]:
        assert name in R.PHRASES["en"]


def test_a_turn_lists_what_is_said_and_whether_it_listens() -> None:
    gather = R.Gather(kind="menu", prompts=(R.Say("Menú", "es"),), language="es")
    turn = R.Turn("browser:x", 1, "ivr", "es", (R.Say("Hola", "es"), gather))
    assert [s.text for s in turn.texts()] == ["Hola", "Menú"]
    assert turn.listening
    assert not R.Turn("browser:x", 1, "ended", "es", (R.Hangup(),)).listening


def test_the_path_is_readable_for_the_agent() -> None:
    model = load_ivr(example_path("agua"))
    steps = R.path_steps(model, [{"node": "main", "key": "2"}, {"node": "main", "key": "0"}], "es")
    assert steps == ["main: 2 · facturas", "main: 0 · persona"]
    assert R.path_steps(None, [{"node": "x", "key": "3"}], "en") == ["x: 3"]


def test_menu_hints_hold_the_keywords_and_the_way_to_a_person() -> None:
    model = load_ivr(example_path("agua"))
    hints = R.menu_hints(model, model.nodes["main"], "es")
    assert "factura" in hints
    assert "persona" in hints
    assert len(hints) == len(set(hints))
