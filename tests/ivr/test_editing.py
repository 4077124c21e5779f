"""Editing the texts of a stored IVR (C1, item 5): fields, edits, checks, tree."""

from __future__ import annotations

import pytest

from escucha.errors import InvalidInput
from escucha.ivr.editing import (
    GREETING,
    apply_edits,
    check_ivr,
    fingerprint,
    menu_tree,
    said_texts,
    text_fields,
)
from tests.ivr.helpers import build, ivr_dict


def test_text_fields_cover_greeting_prompts_intros_labels_and_messages() -> None:
    data = ivr_dict()
    fields = {f.name: f for f in text_fields(data, build(data))}
    assert fields["t.greeting.es"].value == "Bienvenido a Ejemplo."
    assert fields["t.greeting.es"].node == GREETING
    prompt = fields["t.nodes.main.prompt.es"]
    assert prompt.value == ""
    assert prompt.placeholder.startswith("Para facturas, pulse 1.")
    assert fields["t.nodes.main.options.1.label.en"].value == "faults"
    assert fields["t.nodes.hours_info.message.en"].value == "We open from 8 am to 8 pm."
    assert "t.nodes.people.message.es" in fields  # a queue may say something first
    assert all(f.dom_id.replace("-", "").replace("_", "").isalnum() for f in fields.values())
    assert len(fields) == 2 * (1 + 2 * 2 + 3 + 2 + 1 + 3)


def test_apply_edits_writes_texts_and_empty_removes_them() -> None:
    data = ivr_dict()
    edited = apply_edits(
        data,
        {
            "csrf_token": "ignored",
            "t.greeting.en": "  Hello.\r\n",
            "t.nodes.main.prompt.es": "Para facturas, pulse 1.",
            "t.nodes.main.options.0.label.en": "",
            "t.nodes.main.options.0.label.es": "",
        },
    )
    assert edited["greeting"]["en"] == "Hello."
    assert edited["nodes"]["main"]["prompt"] == {"es": "Para facturas, pulse 1."}
    assert "label" not in edited["nodes"]["main"]["options"][0]
    assert data == ivr_dict()  # the original is untouched
    cleared = apply_edits(edited, {"t.nodes.main.prompt.es": ""})
    assert "prompt" not in cleared["nodes"]["main"]


@pytest.mark.parametrize(
    "name",
    [
        "t.nodes.people.queue.es",
        "t.nodes.main.options.7.label.es",
        "t.nodes.main.prompt.fr",
        "t.entry",
        "t.nodes.main.prompt.es.__class__",
        "t.nodes..prompt",
    ],
)
def test_only_listed_texts_can_be_written(name: str) -> None:
    with pytest.raises(InvalidInput):
        apply_edits(ivr_dict(), {name: "x"})


def test_check_ivr_reports_problems_or_findings_without_raising() -> None:
    good = check_ivr(ivr_dict())
    assert good.ok
    assert good.model is not None
    bad = apply_edits(
        ivr_dict(),
        {"t.nodes.hours_info.message.es": "", "t.nodes.hours_info.message.en": ""},
    )
    checked = check_ivr(bad)
    assert not checked.ok
    assert [p.path for p in checked.problems] == ["nodes.hours_info.message"]
    keyed = apply_edits(ivr_dict(), {"t.nodes.main.prompt.es": "Pulse 1 para facturas."})
    rules = {f.rule for f in check_ivr(keyed).findings}
    assert {"action-before-key", "keys-not-announced", "missing-translation"} <= rules
    assert check_ivr(keyed).ok  # warnings only


def test_said_texts_give_the_prompt_heard_its_length_and_whether_it_changed() -> None:
    data = ivr_dict()
    model = build(data)
    saved = {v.field.path: v.said for v in said_texts(text_fields(data, model), model, {})}
    edited = apply_edits(data, {"t.greeting.es": "Hola."})
    new_model = build(edited)
    views = {v.field.name: v for v in said_texts(text_fields(edited, new_model), new_model, saved)}
    greeting = views["t.greeting.es"]
    assert greeting.changed
    assert greeting.seconds == pytest.approx(1 / 2.6)
    prompt = views["t.nodes.main.prompt.es"]
    assert not prompt.changed
    assert prompt.said.startswith("Para facturas, pulse 1.")
    assert prompt.seconds == pytest.approx(len(prompt.said.split()) / 2.6, rel=0.2)


def test_fingerprint_notices_any_change() -> None:
    data = ivr_dict()
    assert fingerprint(data) == fingerprint(ivr_dict())
    assert fingerprint(apply_edits(data, {"t.greeting.es": "Hola."})) != fingerprint(data)


def test_menu_tree_expands_each_node_once_and_lists_unreachable_ones() -> None:
    data = ivr_dict()
    data["nodes"]["orphan"] = {"type": "hangup", "message": {"es": "Adiós.", "en": "Bye."}}
    roots, unreachable = menu_tree(build(data), "en")
    assert [r.id for r in roots] == ["main"]
    main = roots[0]
    assert [(c.via, c.id, c.label) for c in main.children[:3]] == [
        ("1", "billing", "bills"),
        ("2", "faults", "faults"),
        ("3", "hours_info", "opening hours"),
    ]
    info = main.children[2]
    assert [(c.id, c.seen) for c in info.children] == [("main", True)]
    assert unreachable == ["orphan"]
