"""The IVR YAML model: structure, references and errors with lines (C1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from escucha.ivr import service
from escucha.ivr.schemas import IvrSpec
from escucha.yamlio import YamlFileError

from .helpers import build, ivr_dict

GOOD = """\
ivr:
  languages: [es, en]
  agent: people
  nodes:
    main:
      type: menu
      options:
        - key: 1
          label: {es: facturas, en: bills}
          goto: billing
    billing: {type: queue, queue: billing}
    people: {type: queue, queue: general}
"""


def _problems(text: str) -> list[str]:
    with pytest.raises(YamlFileError) as info:
        service.read_ivr_text(text, "ivr.yaml")
    return [str(p) for p in info.value.problems]


def test_organisation_file_reads_only_the_ivr_key() -> None:
    text = "organisation:\n  name: Ejemplo\nqueues: [whatever: 1]\n" + GOOD
    ivr = service.read_ivr_text(text, "org.yaml")
    assert ivr.prefix == ("ivr",)
    assert set(ivr.model.nodes) == {"main", "billing", "people"}


def test_standalone_file_is_the_ivr_itself() -> None:
    standalone = "\n".join(line[2:] for line in GOOD.splitlines()[1:])
    ivr = service.read_ivr_text(standalone, "ivr.yaml")
    assert ivr.prefix == ()
    assert ivr.model.entry == "main"


def test_numeric_keys_become_strings_and_defaults_resolve() -> None:
    model = service.read_ivr_text(GOOD, "ivr.yaml").model
    main = model.nodes["main"]
    assert main.options[0].key == "1"
    assert main.agent_key == "0"
    assert main.repeat_key == "9"
    assert main.agent_goto == "people"
    assert model.default_language == "es"


def test_menu_can_turn_keys_off_or_change_them() -> None:
    data = ivr_dict()
    data["nodes"]["main"]["agent_key"] = None
    data["nodes"]["faults"]["repeat_key"] = "*"
    model = build(data)
    assert model.nodes["main"].agent_key is None
    assert model.nodes["faults"].repeat_key == "*"
    assert model.nodes["faults"].agent_key == "0"


def test_unknown_target_names_file_line_and_path() -> None:
    text = GOOD.replace("goto: billing", "goto: biling")
    (problem,) = _problems(text)
    assert problem.startswith("ivr.yaml:10: ivr.nodes.main.options[0].goto: ")
    assert "'biling'" in problem


def test_wrong_field_names_the_path_without_the_node_type() -> None:
    text = GOOD.replace("queue: billing}", "queue: billing, colour: red}")
    (problem,) = _problems(text)
    assert problem.startswith("ivr.yaml:11: ivr.nodes.billing.colour: ")


def test_unknown_node_type_is_reported() -> None:
    (problem,) = _problems(GOOD.replace("type: queue, queue: general", "type: queu"))
    assert problem.startswith("ivr.yaml:12: ivr.nodes.people")


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ("key: 1", "key: 11"),
        ("key: 1", "key: x"),
    ],
)
def test_keys_are_one_phone_key(change: str, where: str) -> None:
    (problem,) = _problems(GOOD.replace(change, where))
    assert "ivr.nodes.main.options[0].key" in problem


def test_text_in_an_undeclared_language_is_an_error() -> None:
    (problem,) = _problems(GOOD.replace("en: bills", "fr: factures"))
    assert "ivr.nodes.main.options[0].label.fr" in problem
    assert "'fr'" in problem


def test_default_language_must_be_declared() -> None:
    problems = _problems(
        GOOD.replace("  agent: people\n", "  agent: people\n  default_language: ca\n")
    )
    assert any("ivr.default_language" in p for p in problems)


def test_transfer_number_must_be_a_phone_number() -> None:
    data = ivr_dict()
    data["nodes"]["people"] = {"type": "transfer", "number": "12"}
    with pytest.raises(ValueError, match="phone number"):
        IvrSpec.model_validate(data)
    data["nodes"]["people"] = {"type": "transfer", "number": "+34 910 00 00 00"}
    assert build(data).nodes["people"].number == "+34910000000"


def test_business_hours_spans_are_checked() -> None:
    data = ivr_dict(
        business_hours={"timezone": "Europe/Madrid", "weekly": {"mon": ["20:00-08:00"]}}
    )
    with pytest.raises(ValueError, match="ends before it starts"):
        IvrSpec.model_validate(data)
    data["business_hours"] = {"timezone": "Mars/Olympus", "weekly": {}}
    with pytest.raises(ValueError, match="unknown time zone"):
        IvrSpec.model_validate(data)


def test_file_without_an_ivr_says_what_it_expected() -> None:
    (problem,) = _problems("organisation:\n  name: x\n")
    assert "expected an 'ivr:' key" in problem


def test_syntax_error_has_a_line() -> None:
    (problem,) = _problems("ivr:\n  nodes: [\n")
    assert problem.startswith("ivr.yaml:")


@pytest.mark.parametrize("name", ["banco", "telco", "agua", "malo"])
def test_examples_load(name: str) -> None:
    model = service.load_ivr(service.example_path(name))
    # The bad example also offers a language escucha does not speak (unknown-language).
    assert model.languages == (("es", "en", "fr") if name == "malo" else ("es", "en"))
    assert model.entry in model.nodes


def test_example_path_points_to_a_file() -> None:
    assert Path(service.example_path("banco")).is_file()
