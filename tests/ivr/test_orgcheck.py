"""The ``ivr:`` key of the organisation YAML, checked before it is applied (C1)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from escucha.ivr.orgcheck import problems_for_org_ivr, storable_ivr, unknown_queues
from escucha.ivr.schemas import IvrSpec
from escucha.org import service as org_service
from escucha.yamlio import load, load_text
from tests.ivr.helpers import build

DEMO = Path(org_service.__file__).parent / "demo.yaml"

ORG = """\
organisation: {name: T, country: ES, timezone: Europe/Madrid, language: es}
queues:
  - {name: general, team: t}
  - {name: billing, team: t}
ivr:
  agent: people
  greeting: {es: Hola., en: Hello.}
  nodes:
    main:
      type: menu
      options:
        - {key: 1, goto: billing, label: {es: facturas, en: bills}}
    people: {type: queue, queue: general}
    billing: {type: queue, queue: billing}
"""


def test_the_demo_organisation_ivr_has_no_problems() -> None:
    assert problems_for_org_ivr(load(DEMO), str(DEMO)) == []


def test_a_good_ivr_and_no_ivr_pass() -> None:
    assert problems_for_org_ivr(load_text(ORG, "org.yaml"), "org.yaml") == []
    no_ivr = ORG.split("ivr:")[0]
    assert problems_for_org_ivr(load_text(no_ivr, "org.yaml"), "org.yaml") == []
    assert problems_for_org_ivr(load_text(no_ivr + "ivr:\n", "org.yaml"), "org.yaml") == []


def test_a_structural_problem_names_the_line_and_the_path() -> None:
    text = ORG.replace("goto: billing", "goto: nowhere")
    problems = problems_for_org_ivr(load_text(text, "org.yaml"), "org.yaml")
    assert len(problems) == 1
    p = problems[0]
    assert (p.file, p.line, p.path) == ("org.yaml", 12, "ivr.nodes.main.options[0].goto")
    assert "nowhere" in p.message


def test_lint_errors_block_but_warnings_do_not() -> None:
    no_person = ORG.replace("      type: menu\n", "      type: menu\n      agent_key: null\n")
    problems = problems_for_org_ivr(load_text(no_person, "org.yaml"), "org.yaml")
    assert [p.path for p in problems] == ["ivr.nodes.main"]
    assert problems[0].message.startswith("[person]")
    assert problems[0].line == 9
    warned = ORG.replace("en: Hello.", "en: This is the IVR.")  # jargon: a warning
    assert problems_for_org_ivr(load_text(warned, "org.yaml"), "org.yaml") == []


def test_queues_must_be_those_of_the_organisation() -> None:
    text = ORG.replace("queue: general}", "queue: generla}")
    problems = problems_for_org_ivr(load_text(text, "org.yaml"), "org.yaml")
    assert [(p.path, p.line) for p in problems] == [("ivr.nodes.people.queue", 13)]
    assert "generla" in problems[0].message
    assert "billing, general" in problems[0].message
    unchecked = problems_for_org_ivr(load_text(text, "org.yaml"), "org.yaml", check_queues=False)
    assert unchecked == []


def test_unknown_queues_lists_queue_and_callback_nodes() -> None:
    model = build()
    assert unknown_queues(model, ["general", "billing", "faults"]) == []
    assert sorted(unknown_queues(model, ["general"])) == [
        ("billing", "billing"),
        ("faults_q", "faults"),
    ]


def test_storable_ivr_is_json_and_reads_back_the_same() -> None:
    doc = load(DEMO)
    doc["ivr"]["business_hours"]["closed_dates"] = [date(2026, 12, 24)]
    stored = storable_ivr(doc["ivr"])
    assert stored["business_hours"]["closed_dates"] == ["2026-12-24"]
    again = json.loads(json.dumps(stored))
    spec = IvrSpec.model_validate(again)
    assert spec.business_hours is not None
    assert spec.business_hours.closed_dates == [date(2026, 12, 24)]
    assert storable_ivr(None) == {}
