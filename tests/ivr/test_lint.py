"""Every IVR lint rule fires on a bad menu and stays silent on a good one (C1)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from escucha.i18n import catalog
from escucha.ivr import service
from escucha.ivr.lint import RULES, Finding, errors, key_before_action, lint, menu_depths
from escucha.ivr.rules import spoken_texts

from .helpers import build, ivr_dict

Change = Callable[[dict[str, Any]], None]


def _rules_of(data: dict[str, Any], **kwargs: Any) -> list[Finding]:
    return lint(build(data), **kwargs)


def _fired(data: dict[str, Any], rule: str, **kwargs: Any) -> list[Finding]:
    return [f for f in _rules_of(data, **kwargs) if f.rule == rule]


def _menu(data: dict[str, Any], node: str = "main") -> dict[str, Any]:
    menu: dict[str, Any] = data["nodes"][node]
    return menu


def _option(key: str, goto: str, es: str, en: str) -> dict[str, Any]:
    return {"key": key, "goto": goto, "label": {"es": es, "en": en}}


# --- what makes each rule fire, and a near miss that must stay silent -----------------------


def person_off(d: dict[str, Any]) -> None:
    _menu(d)["agent_key"] = None


def person_option_instead(d: dict[str, Any]) -> None:
    _menu(d)["agent_key"] = None
    _menu(d)["options"].append(_option("4", "people", "hablar con una persona", "a person"))


def person_to_voicemail(d: dict[str, Any]) -> None:
    d["nodes"]["vm"] = {
        "type": "voicemail",
        "message": {"es": "Deje un mensaje.", "en": "Leave a message."},
    }
    d["agent"] = "vm"
    d["nodes"]["people"] = {"type": "queue", "queue": "general"}
    _menu(d)["options"].append(_option("4", "people", "otras consultas", "other questions"))


def six_options(d: dict[str, Any]) -> None:
    for key in "456":
        _menu(d)["options"].append(_option(key, "billing", f"cosa {key}", f"thing {key}"))


def five_options(d: dict[str, Any]) -> None:
    for key in "45":
        _menu(d)["options"].append(_option(key, "billing", f"cosa {key}", f"thing {key}"))


def six_options_allowed(d: dict[str, Any]) -> None:
    six_options(d)
    d["max_options"] = 6


def _submenu(d: dict[str, Any], name: str, goto: str) -> None:
    d["nodes"][name] = {"type": "menu", "options": [_option("1", goto, "seguir", "go on")]}


def level_four(d: dict[str, Any]) -> None:
    _menu(d, "faults")["options"][0]["goto"] = "level3"
    _submenu(d, "level3", "level4")
    _submenu(d, "level4", "faults_q")


def level_three_through_info(d: dict[str, Any]) -> None:
    _menu(d, "faults")["options"][0]["goto"] = "note"
    d["nodes"]["note"] = {
        "type": "info",
        "message": {"es": "Un aviso.", "en": "A note."},
        "then": "level3",
    }
    _submenu(d, "level3", "faults_q")


def repeat_off(d: dict[str, Any]) -> None:
    _menu(d, "faults")["repeat_key"] = None


def repeat_other_key(d: dict[str, Any]) -> None:
    _menu(d, "faults")["repeat_key"] = "*"


def long_message(d: dict[str, Any]) -> None:
    d["nodes"]["hours_info"]["message"]["es"] = " ".join(["palabra"] * 60)


def long_message_allowed(d: dict[str, Any]) -> None:
    long_message(d)
    d["max_prompt_s"] = 30


def key_first(d: dict[str, Any]) -> None:
    _menu(d)["prompt"] = {
        "es": "Pulse 1 para facturas, 2 para averías, 3 para horarios, 9 para repetir y 0 "
        "para hablar con una persona.",
        "en": "For bills, press 1. For faults, press 2. For hours, press 3. To repeat, press 9. "
        "To speak to a person, press 0.",
    }


def action_first(d: dict[str, Any]) -> None:
    _menu(d)["prompt"] = {
        "es": "Para facturas, pulse 1, para averías, pulse 2. Para horarios, pulse 3. Para "
        "repetir, pulse 9. Para hablar con una persona, pulse 0.",
        "en": "For bills, press 1. For faults, press 2. For hours, press 3. To repeat, press 9. "
        "To speak to a person, press 0.",
    }


def orphan(d: dict[str, Any]) -> None:
    d["nodes"]["old"] = {"type": "queue", "queue": "old"}


def orphan_is_known_entry(d: dict[str, Any]) -> None:
    d["nodes"]["known"] = {
        "type": "menu",
        "options": [_option("1", "billing", "facturas", "bills")],
    }
    d["caller_id"] = {"lookup": True, "known_entry": "known"}


def info_without_then(d: dict[str, Any]) -> None:
    del d["nodes"]["hours_info"]["then"]


def info_then_hangup(d: dict[str, Any]) -> None:
    d["nodes"]["hours_info"]["then"] = "bye"
    d["nodes"]["bye"] = {"type": "hangup", "message": {"es": "Adiós.", "en": "Goodbye."}}


def empty_menu(d: dict[str, Any]) -> None:
    _menu(d, "faults")["options"] = []
    _menu(d, "faults")["agent_key"] = None


def circle(d: dict[str, Any], agent_on: bool = False) -> None:
    _menu(d, "faults")["options"].append(_option("3", "circle_a", "más", "more"))
    for name, other in (("circle_a", "circle_b"), ("circle_b", "circle_a")):
        d["nodes"][name] = {
            "type": "menu",
            "options": [_option("1", other, "el otro", "the other")],
        }
        if not agent_on:
            d["nodes"][name]["agent_key"] = None


def circle_with_exit(d: dict[str, Any]) -> None:
    circle(d, agent_on=True)


def overlap(d: dict[str, Any]) -> None:
    _menu(d)["options"][1]["keywords"]["es"] = ["factura duplicada"]


def overlap_with_person_words(d: dict[str, Any]) -> None:
    _menu(d)["options"][1]["keywords"]["en"] = ["talk to a person"]


def two_words_same_option(d: dict[str, Any]) -> None:
    _menu(d)["options"][0]["keywords"]["es"] = ["factura", "factura duplicada"]


def jargon_label(d: dict[str, Any]) -> None:
    _menu(d)["options"][1]["label"]["es"] = "incidencias de FTTH"


def jargon_custom(d: dict[str, Any]) -> None:
    d["jargon"] = ["horarios"]


def jargon_disabled(d: dict[str, Any]) -> None:
    jargon_label(d)
    d["jargon"] = []


def no_english_label(d: dict[str, Any]) -> None:
    del _menu(d)["options"][0]["label"]["en"]


def no_english_greeting(d: dict[str, Any]) -> None:
    del d["greeting"]["en"]


def written_prompts_need_no_labels(d: dict[str, Any]) -> None:
    action_first(d)
    for option in _menu(d)["options"]:
        option["label"] = {}


def same_key_twice(d: dict[str, Any]) -> None:
    _menu(d)["options"][1]["key"] = "1"


def option_on_agent_key(d: dict[str, Any]) -> None:
    _menu(d)["options"][1]["key"] = "0"


def option_on_free_agent_key(d: dict[str, Any]) -> None:
    _menu(d)["agent_key"] = "*"
    _menu(d)["options"][1]["key"] = "0"


def prompt_missing_keys(d: dict[str, Any]) -> None:
    action_first(d)
    _menu(d)["prompt"]["en"] = "For bills, press 1. For faults, press 2."


def notice_only_in_spanish(d: dict[str, Any]) -> None:
    d["recording_notice"] = {"text": {"es": "Esta llamada se graba."}}


def notice_in_every_language(d: dict[str, Any]) -> None:
    d["recording_notice"] = {"text": {"es": "Esta llamada se graba.", "en": "Recorded."}}


#: Rules that read more than the IVR: ``recording-notice`` fires only when calls are recorded.
RECORDING = {"recording-notice"}


def prompt_keys_as_words(d: dict[str, Any]) -> None:
    action_first(d)
    _menu(d)["prompt"]["es"] = (
        "Para facturas, marque uno. Para averías, el dos. Para horarios, el tres. "
        "Para repetir, el nueve. Para hablar con una persona, el cero."
    )


def french(d: dict[str, Any]) -> None:
    d["languages"] = ["es", "en", "fr"]


def catalan(d: dict[str, Any]) -> None:
    d["languages"] = ["es", "en", "ca"]
    d["greeting"]["ca"] = "Bon dia."
    for node in d["nodes"].values():
        for field in ("prompt", "intro", "message"):
            if isinstance(node.get(field), dict) and node[field]:
                node[field]["ca"] = "Missatge."
        for option in node.get("options", []):
            option.setdefault("label", {})["ca"] = "una opció"
            if option.get("keywords"):
                option["keywords"]["ca"] = [f"opció {option['key']}"]


FIRES: list[tuple[str, Change]] = [
    ("unknown-language", french),
    ("person", person_off),
    ("person", person_to_voicemail),
    ("max-options", six_options),
    ("max-depth", level_four),
    ("repeat", repeat_off),
    ("prompt-length", long_message),
    ("action-before-key", key_first),
    ("unreachable", orphan),
    ("dead-end", info_without_then),
    ("dead-end", empty_menu),
    ("loop-no-exit", circle),
    ("keyword-overlap", overlap),
    ("keyword-overlap", overlap_with_person_words),
    ("jargon", jargon_label),
    ("jargon", jargon_custom),
    ("missing-translation", no_english_label),
    ("missing-translation", no_english_greeting),
    ("duplicate-key", same_key_twice),
    ("duplicate-key", option_on_agent_key),
    ("keys-not-announced", prompt_missing_keys),
    ("recording-notice", notice_only_in_spanish),
]

SILENT: list[tuple[str, Change]] = [
    ("unknown-language", catalan),
    ("person", person_option_instead),
    ("max-options", five_options),
    ("max-options", six_options_allowed),
    ("max-depth", level_three_through_info),
    ("repeat", repeat_other_key),
    ("prompt-length", long_message_allowed),
    ("action-before-key", action_first),
    ("unreachable", orphan_is_known_entry),
    ("dead-end", info_then_hangup),
    ("loop-no-exit", circle_with_exit),
    ("keyword-overlap", two_words_same_option),
    ("jargon", jargon_disabled),
    ("missing-translation", written_prompts_need_no_labels),
    ("duplicate-key", option_on_free_agent_key),
    ("keys-not-announced", prompt_keys_as_words),
    ("recording-notice", notice_in_every_language),
]


def test_base_ivr_is_clean() -> None:
    assert _rules_of(ivr_dict()) == []


def test_every_rule_has_cases_both_ways() -> None:
    assert {rule for rule, _ in FIRES} == set(RULES)
    assert {rule for rule, _ in SILENT} == set(RULES)


@pytest.mark.parametrize(("rule", "change"), FIRES, ids=lambda x: getattr(x, "__name__", x))
def test_rule_fires(rule: str, change: Change) -> None:
    data = ivr_dict()
    change(data)
    found = _fired(data, rule, recording=rule in RECORDING)
    assert found, f"{rule} did not fire"
    for f in found:
        assert f.severity == RULES[rule].severity
        es, en = service.say(f.message, "es"), service.say(f.message, "en")
        assert es
        assert en
        assert es != en
        assert "{" not in es + en


@pytest.mark.parametrize(("rule", "change"), SILENT, ids=lambda x: getattr(x, "__name__", x))
def test_rule_stays_silent(rule: str, change: Change) -> None:
    data = ivr_dict()
    change(data)
    assert _fired(data, rule, recording=rule in RECORDING) == []


def test_measured_duration_replaces_the_estimate() -> None:
    model = build()
    greeting = next(s for s in spoken_texts(model) if s.kind == "greeting" and s.language == "es")
    assert not [f for f in lint(model) if f.rule == "prompt-length"]
    found = [
        f for f in lint(model, durations={("es", greeting.text): 25.0}) if f.rule == "prompt-length"
    ]
    assert [f.path for f in found] == [("greeting", "es")]
    assert "medido" in service.say(found[0].message, "es")
    assert "measured" in service.say(found[0].message, "en")


def test_speaking_rate_changes_the_estimate() -> None:
    data = ivr_dict()
    data["nodes"]["hours_info"]["message"]["es"] = " ".join(["palabra"] * 40)
    assert not _fired(data, "prompt-length")  # 40 words at 2.6 w/s = 15 s
    data["speaking_rate_wps"] = {"es": 1.5}  # 27 s
    assert _fired(data, "prompt-length")


def test_overlap_names_both_keys() -> None:
    data = ivr_dict()
    overlap(data)
    (finding,) = _fired(data, "keyword-overlap")
    assert finding.args["key"] == "2"
    assert finding.args["other_key"] == "1"
    assert finding.path == ("nodes", "main", "options", 1, "keywords", "es")


def test_loop_is_reported_once_with_its_members() -> None:
    data = ivr_dict()
    circle(data)
    (finding,) = _fired(data, "loop-no-exit")
    assert finding.args["nodes"] == "circle_a, circle_b"


def test_depth_counts_menus_not_information() -> None:
    data = ivr_dict()
    level_three_through_info(data)
    depths = menu_depths(build(data))
    assert (depths["main"], depths["faults"], depths["level3"]) == (1, 2, 3)


@pytest.mark.parametrize(
    ("text", "bad"),
    [
        ("Pulse 1 para facturas.", True),
        ("Press 1 for bills.", True),
        ("Press one for bills.", True),
        ("Para hablar con una persona, pulse 0 en cualquier momento.", False),
        ("Pulse el 2 si quiere repetir.", True),
        ("Para facturas, pulse 1, para averías, pulse 2.", False),
        ("For bills, press 1. To speak to a person, press 0.", False),
        ("Pulse asterisco para volver.", True),
        ("Gracias por llamar.", False),
    ],
)
def test_key_before_action(text: str, bad: bool) -> None:
    assert (key_before_action(text) is not None) is bad


@pytest.mark.parametrize("name", ["banco", "telco", "agua"])
def test_examples_are_clean(name: str) -> None:
    report = service.lint_file(service.example_path(name))
    assert report.errors == 0
    assert report.warnings == 0


def test_bad_example_fires_every_rule() -> None:
    report = service.lint_file(service.example_path("malo"))
    assert {f.rule for f in report.findings} == set(RULES) - RECORDING
    recorded = service.lint_file(service.example_path("malo"), recording=True)
    assert {f.rule for f in recorded.findings} == set(RULES)
    assert all(f.line is not None for f in recorded.findings)
    assert not report.ok
    assert all(f.line is not None and f.file for f in report.findings)
    assert all(f.path[0] == "ivr" for f in report.findings)
    assert len(errors(report.findings)) == report.errors


def test_rule_catalogue_is_bilingual() -> None:
    """Every rule's texts are message ids the Spanish catalog words, with the same fields."""
    es = catalog("es")
    field = re.compile(r"\{(\w*)[^{}]*\}")
    for rule in RULES.values():
        for text in (rule.title, rule.explanation, rule.fix, rule.template):
            assert text.strip()
            assert es.get(text, "").strip(), text
            assert set(field.findall(text)) == set(field.findall(es[text])), text
