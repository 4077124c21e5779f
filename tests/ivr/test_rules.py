"""The pure IVR runtime the telephony layer drives (C1; Ley 10/2025: a person from every menu)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from escucha.ivr import service
from escucha.ivr.rules import (
    BusinessHours,
    CallState,
    Hours,
    IvrRuntimeError,
    Keys,
    NoInput,
    Speech,
    Step,
    advance,
    is_open,
    match_speech,
    menu_prompt,
    normalise,
    start,
)

from .helpers import build, ivr_dict


def test_start_says_greeting_then_generated_prompt() -> None:
    model = build()
    step = start(model)
    assert step.status == "menu"
    assert [u.kind for u in step.say] == ["greeting", "prompt"]
    assert step.say[0].text == "Bienvenido a Ejemplo."
    assert step.say[1].text.startswith("Para facturas, pulse 1. Para averías, pulse 2.")
    assert step.say[1].text.endswith("Para repetir, pulse 9. Para hablar con una persona, pulse 0.")
    assert step.state.path == ("main",)


def test_english_caller_hears_english() -> None:
    step = start(build(), language="en")
    assert step.say[1].text.startswith("For bills, press 1.")
    assert "To speak to a person, press 0." in step.say[1].text


def test_unknown_language_falls_back_to_default() -> None:
    assert start(build(), language="fr").state.language == "es"


def test_written_prompt_wins_over_generated() -> None:
    data = ivr_dict()
    data["nodes"]["main"]["prompt"] = {"es": "Diga o marque su gestión."}
    model = build(data)
    assert menu_prompt(model, model.nodes["main"], "es") == "Diga o marque su gestión."
    assert menu_prompt(model, model.nodes["main"], "en").startswith("For bills")


def test_key_leads_to_queue_with_path() -> None:
    model = build()
    step = advance(model, start(model), Keys("1"))
    assert step.terminal
    assert (step.status, step.queue) == ("queue", "billing")
    assert step.path_text == "main>1>billing"


def test_typed_ahead_keys_go_through_menus() -> None:
    model = build()
    step = advance(model, start(model), Keys("21"))
    assert (step.status, step.queue) == ("queue", "faults")
    assert step.path_text == "main>2>faults>1>faults_q"
    assert [u.node for u in step.say] == ["faults"]


def test_agent_key_works_from_every_menu_of_every_example() -> None:
    for name in ("banco", "telco", "agua"):
        model = service.load_ivr(service.example_path(name))
        for node in model.nodes.values():
            if node.type != "menu":
                continue
            assert node.agent_key is not None, (name, node.id)
            waiting = Step(CallState(node.id, "es", (node.id,)), "menu")
            out = advance(model, waiting, Keys(node.agent_key), is_open=True)
            assert out.status in ("queue", "callback", "transfer"), (name, node.id, out)
            spoken = advance(model, waiting, Speech("quiero hablar con una persona"))
            assert spoken.state.path[:2] == (node.id, node.agent_key)


def test_repeat_key_says_the_prompt_again() -> None:
    model = build()
    first = start(model)
    again = advance(model, first, Keys("9"))
    assert again.status == "menu"
    assert again.state.node == "main"
    assert [u.text for u in again.say] == [first.say[1].text]


def test_wrong_key_then_retries_run_out_to_a_person() -> None:
    model = build()
    step = advance(model, start(model), Keys("7"))
    assert step.status == "menu"
    assert step.say[0].kind == "invalid"
    assert step.say[0].text == "Esa opción no es válida."
    step = advance(model, step, NoInput())
    assert step.say[0].kind == "no_input"
    step = advance(model, step, NoInput())
    assert (step.status, step.queue) == ("queue", "general")


def test_retries_without_any_target_say_goodbye() -> None:
    data = ivr_dict(agent=None)
    data["nodes"]["main"]["no_input"] = {"retries": 0}
    model = build(data)
    step = advance(model, start(model), NoInput())
    assert step.status == "hangup"
    assert step.say[-1].kind == "goodbye"


def test_no_input_goes_to_its_own_target() -> None:
    data = ivr_dict()
    data["nodes"]["main"]["no_input"] = {"retries": 1, "then": "hours_info"}
    model = build(data)
    step = advance(model, advance(model, start(model), NoInput()), NoInput())
    assert step.state.node == "main"
    assert [u.kind for u in step.say] == ["no_input", "message", "prompt"]


@pytest.mark.parametrize(
    ("said", "key"),
    [
        ("FACTURAS", "1"),
        ("quiero pagar un recibo", "1"),
        ("mi internet no funciona", "2"),
        ("averias", "2"),
        ("Avería!", "2"),
        ("uno", "1"),
        ("3", "3"),
        ("quiero hablar con una persona", "0"),
        ("repetir", "9"),
        ("la factura de la averia", None),  # two options match equally: ask again
        ("buenos dias", None),
    ],
)
def test_speech_matches_keywords_ignoring_accents_and_case(said: str, key: str | None) -> None:
    model = build()
    assert match_speech(model, model.nodes["main"], said, "es") == key


def test_longest_keyword_wins() -> None:
    data = ivr_dict()
    data["nodes"]["main"]["options"][0]["keywords"]["es"] = ["factura"]
    data["nodes"]["main"]["options"][1]["keywords"]["es"] = ["factura duplicada"]
    model = build(data)
    assert match_speech(model, model.nodes["main"], "una factura duplicada", "es") == "2"


def test_speech_drives_the_call() -> None:
    model = build()
    step = advance(model, start(model, language="en"), Speech("my phone is broken"))
    assert step.state.node == "faults"
    step = advance(model, step, Speech("the phone"))
    assert step.queue == "faults"
    assert advance(model, start(model), Speech("nada")).say[0].kind == "invalid"


def test_info_node_says_message_and_continues() -> None:
    model = build()
    step = advance(model, start(model), Keys("3"))
    assert step.status == "menu"
    assert [u.node for u in step.say] == ["hours_info", "main"]
    assert step.path_text == "main>3>hours_info>main"


def test_hours_node_waits_for_is_open_or_uses_it() -> None:
    data = ivr_dict(entry="gate")
    data["nodes"]["gate"] = {"type": "hours", "open": "main", "closed": "night"}
    data["nodes"]["night"] = {"type": "voicemail", "message": {"es": "Deje un mensaje."}}
    model = build(data)
    waiting = start(model)
    assert waiting.status == "hours"
    assert [u.kind for u in waiting.say] == ["greeting"]
    closed = advance(model, waiting, Hours(is_open=False))
    assert closed.status == "voicemail"
    assert closed.say[-1].text == "Deje un mensaje."
    assert start(model, is_open=True).state.node == "main"
    with pytest.raises(IvrRuntimeError):
        advance(model, waiting, Keys("1"))


def test_known_caller_starts_at_known_entry() -> None:
    data = ivr_dict(caller_id={"lookup": True, "known_entry": "faults"})
    model = build(data)
    assert start(model, caller_known=True).state.node == "faults"
    assert start(model, caller_known=False).state.node == "main"


def test_option_can_switch_language() -> None:
    data = ivr_dict()
    data["nodes"]["main"]["options"].append(
        {"key": "8", "label": {"es": "English", "en": "English"}, "goto": "main", "language": "en"}
    )
    model = build(data)
    step = advance(model, start(model), Keys("8"))
    assert step.state.language == "en"
    assert step.say[0].text.startswith("For bills")


def test_terminal_step_takes_no_input() -> None:
    model = build()
    done = advance(model, start(model), Keys("1"))
    with pytest.raises(IvrRuntimeError):
        advance(model, done, Keys("1"))
    with pytest.raises(IvrRuntimeError):
        advance(model, start(model), Hours(is_open=True))


def test_endless_information_loop_ends_the_call() -> None:
    data = ivr_dict()
    data["nodes"]["hours_info"]["then"] = "again"
    data["nodes"]["again"] = {"type": "info", "message": {"es": "Otra vez."}, "then": "hours_info"}
    model = build(data)
    step = advance(model, start(model), Keys("3"))
    assert step.status == "hangup"
    assert step.say[-1].kind == "goodbye"


def test_is_open_uses_local_time_and_closed_dates() -> None:
    hours = BusinessHours(
        "Europe/Madrid",
        {0: ((time(8), time(20)),)},
        frozenset({date(2025, 12, 29)}),
    )
    # Monday 2025-06-02: 07:30 UTC is 09:30 in Madrid (summer time).
    assert is_open(hours, datetime(2025, 6, 2, 7, 30, tzinfo=UTC))
    assert not is_open(hours, datetime(2025, 6, 2, 18, 30, tzinfo=UTC))  # 20:30 local
    assert not is_open(hours, datetime(2025, 6, 3, 9, 0, tzinfo=UTC))  # Tuesday
    assert not is_open(hours, datetime(2025, 12, 29, 10, 0, tzinfo=UTC))  # closed date
    with pytest.raises(ValueError, match="timezone-aware"):
        is_open(hours, datetime(2025, 6, 2, 9, 0))  # noqa: DTZ001


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=40))
def test_normalise_is_idempotent_and_plain(text: str) -> None:
    once = normalise(text)
    assert normalise(once) == once
    assert all(c.isascii() and (c.isalnum() or c == " ") for c in once)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.sampled_from(["1", "2", "3", "9", "0", "7", "-", "factura", "hola"]), max_size=8)
)
def test_any_input_sequence_keeps_the_call_valid(inputs: list[str]) -> None:
    model = build()
    step = start(model)
    for item in inputs:
        if step.terminal:
            break
        event = NoInput() if item == "-" else Keys(item) if item.isdigit() else Speech(item)
        step = advance(model, step, event)
        assert step.state.node in model.nodes
        assert step.terminal or step.say  # a waiting call always says what to do
