"""Editing the texts of a stored IVR: which texts there are, applying edits, checking (C1).

The IVR editor screen changes words, not structure: the greeting, the menu prompts and
intros, the option labels and the messages, in every language. :func:`text_fields` lists
them from the stored IVR (the ``ivr:`` mapping of the organisation), :func:`apply_edits`
writes a form's values into a copy, and :func:`check_ivr` validates and lints the result
without saving anything.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from escucha.errors import InvalidInput
from escucha.ivr.lint import Finding, lint
from escucha.ivr.rules import (
    DEFAULT_RATE_WPS,
    FALLBACK_RATE_WPS,
    IvrModel,
    Loc,
    Node,
    entry_points,
    menu_prompt,
    reachable,
    words,
)
from escucha.ivr.schemas import DEFAULT_LANGUAGES, IvrSpec, validate_ivr
from escucha.yamlio import YamlFileError, YamlProblem

FIELD_PREFIX = "t."
#: How the greeting is named where a node id is expected (node ids start with a letter).
GREETING = "_greeting"
FILENAME = "organisation.ivr"
TextKind = Literal["greeting", "prompt", "intro", "label", "message"]
#: Greeting and messages of these node types can be edited.
MESSAGE_TYPES = ("queue", "info", "callback", "voicemail", "transfer", "hangup")
MAX_TEXT = 2000
MAX_FORM_TEXT = 10 * MAX_TEXT

_PART = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True)
class TextField:
    """One editable text of the IVR, in one language.

    ``path`` is where it sits inside the ``ivr:`` mapping, e.g.
    ``("nodes", "main", "prompt", "es")``. ``placeholder`` is the prompt generated from the
    option labels, said when a menu has no written prompt in that language.
    """

    path: tuple[str | int, ...]
    node: str
    kind: TextKind
    language: str
    value: str
    placeholder: str = ""
    option: int | None = None

    @property
    def name(self) -> str:
        """The form field name: ``t.nodes.main.prompt.es``."""
        return FIELD_PREFIX + ".".join(str(p) for p in self.path)

    @property
    def dom_id(self) -> str:
        """An HTML id safe in CSS selectors: ``f-nodes-main-prompt-es``."""
        return "f-" + "-".join(str(p) for p in self.path)

    @property
    def audible(self) -> bool:
        """Whether the text is said on its own (greeting, menu prompt, message)."""
        return self.kind in ("greeting", "prompt", "message")


def languages_of(ivr: Mapping[str, Any]) -> list[str]:
    """The languages of a stored IVR (``[es, en]`` when not given, like the schema)."""
    langs = ivr.get("languages")
    if isinstance(langs, list) and all(isinstance(x, str) for x in langs) and langs:
        return list(langs)
    return list(DEFAULT_LANGUAGES)


def _texts(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def text_fields(ivr: Mapping[str, Any], model: IvrModel | None = None) -> list[TextField]:
    """Every editable text of ``ivr``, greeting first, then node by node in file order.

    With ``model`` (the resolved IVR) a menu's prompt field carries the generated prompt as
    placeholder.
    """
    langs = languages_of(ivr)
    out: list[TextField] = []
    greeting = _texts(ivr.get("greeting"))
    out.extend(
        TextField(("greeting", lang), GREETING, "greeting", lang, _text(greeting.get(lang)))
        for lang in langs
    )
    nodes = _texts(ivr.get("nodes"))
    for node_id, raw in nodes.items():
        spec = _texts(raw)
        kind = spec.get("type")
        base: tuple[str | int, ...] = ("nodes", str(node_id))
        if kind == "menu":
            prompt = _texts(spec.get("prompt"))
            intro = _texts(spec.get("intro"))
            resolved = model.nodes.get(str(node_id)) if model is not None else None
            for lang in langs:
                generated = ""
                if model is not None and resolved is not None:
                    generated = menu_prompt(model, replace(resolved, prompt={}), lang)
                out.append(
                    TextField(
                        (*base, "prompt", lang),
                        str(node_id),
                        "prompt",
                        lang,
                        _text(prompt.get(lang)),
                        generated,
                    )
                )
            out.extend(
                TextField(
                    (*base, "intro", lang), str(node_id), "intro", lang, _text(intro.get(lang))
                )
                for lang in langs
            )
            options = spec.get("options")
            for i, option in enumerate(options if isinstance(options, list) else []):
                label = _texts(_texts(option).get("label"))
                out.extend(
                    TextField(
                        (*base, "options", i, "label", lang),
                        str(node_id),
                        "label",
                        lang,
                        _text(label.get(lang)),
                        option=i,
                    )
                    for lang in langs
                )
        elif kind in MESSAGE_TYPES:
            message = _texts(spec.get("message"))
            out.extend(
                TextField(
                    (*base, "message", lang),
                    str(node_id),
                    "message",
                    lang,
                    _text(message.get(lang)),
                )
                for lang in langs
            )
    return out


def _parse_name(name: str) -> tuple[str | int, ...]:
    parts = name.removeprefix(FIELD_PREFIX).split(".")
    if not all(_PART.match(p) for p in parts):
        raise InvalidInput(f"not an IVR text field: {name!r}")
    return tuple(int(p) if p.isdigit() else p for p in parts)


def apply_edits(ivr: Mapping[str, Any], form: Mapping[str, str]) -> dict[str, Any]:
    """A copy of ``ivr`` with the texts of ``form`` (fields named ``t.<path>``) written in.

    Only the texts :func:`text_fields` lists can be written; an empty text removes that
    language (a menu prompt left empty is generated from the labels again).
    """
    edited: dict[str, Any] = copy.deepcopy(dict(ivr))
    allowed = {f.path for f in text_fields(edited)}
    for name, raw in form.items():
        if not name.startswith(FIELD_PREFIX):
            continue
        path = _parse_name(name)
        if path not in allowed:
            raise InvalidInput(f"not an IVR text field: {name!r}")
        value = raw.replace("\r\n", "\n").strip()
        if len(value) > MAX_FORM_TEXT:  # the schema reports anything above MAX_TEXT
            raise InvalidInput(f"{name}: longer than {MAX_TEXT} characters")
        _write(edited, path, value)
    return edited


def _write(ivr: dict[str, Any], path: Sequence[str | int], value: str) -> None:
    *where, key, lang = path
    holder: Any = ivr
    for part in where:
        holder = holder[part]
    texts = holder.get(key)
    texts = dict(texts) if isinstance(texts, Mapping) else {}
    if value:
        texts[lang] = value
    else:
        texts.pop(lang, None)
    if texts:
        holder[key] = texts
    else:
        holder.pop(key, None)


def fingerprint(ivr: Mapping[str, Any]) -> str:
    """A short hash of a stored IVR, to notice it changed while someone was editing it."""
    text = json.dumps(ivr, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# --------------------------------------------------------------------------------------------
# Checking an edit
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checked:
    """An IVR validated and linted: structural problems, or the model and its findings."""

    spec: IvrSpec | None
    model: IvrModel | None
    problems: tuple[YamlProblem, ...] = ()
    findings: tuple[Finding, ...] = ()

    @property
    def errors(self) -> int:
        return len(self.problems) + sum(1 for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.severity == "warning")

    @property
    def ok(self) -> bool:
        return self.errors == 0


def check_ivr(ivr: Mapping[str, Any]) -> Checked:
    """Validate and lint a stored (or edited) IVR; nothing is raised for a bad one."""
    try:
        spec = validate_ivr(dict(ivr), FILENAME)
    except YamlFileError as exc:
        return Checked(None, None, tuple(exc.problems))
    model = spec.to_model()
    return Checked(spec, model, (), tuple(lint(model)))


def finding_node(path: Loc) -> str:
    """The node a finding or problem concerns: a node id, :data:`GREETING` or ``""``."""
    if len(path) >= 2 and path[0] == "nodes":
        return str(path[1])
    if path and path[0] == "greeting":
        return GREETING
    return ""


def problem_node(problem: YamlProblem) -> str:
    """The node of a structural problem, from its dotted path (``nodes.main.prompt.es``)."""
    parts = re.split(r"[.\[]", problem.path)
    return finding_node(tuple(parts))


@dataclass(frozen=True)
class FieldView:
    """A text as the caller will hear it after the edit: the text said and how long."""

    field: TextField
    said: str
    seconds: float
    changed: bool = False


def said_texts(
    fields: Sequence[TextField], model: IvrModel | None, saved: Mapping[tuple[Any, ...], str]
) -> list[FieldView]:
    """What each audible field says (a menu's written or generated prompt) and its length.

    Lengths are estimated from the speaking rate (words / words per second). ``saved`` maps
    field paths to what the saved IVR says there, to tell which texts changed.
    """
    out: list[FieldView] = []
    for f in fields:
        said = f.value
        if f.kind == "prompt" and model is not None and f.node in model.nodes:
            said = menu_prompt(model, model.nodes[f.node], f.language)
        elif f.kind == "prompt" and not said:
            said = f.placeholder
        rate = (
            model.rate_wps(f.language)
            if model is not None
            else DEFAULT_RATE_WPS.get(f.language, FALLBACK_RATE_WPS)
        )
        seconds = len(words(said)) / rate
        out.append(FieldView(f, said, seconds, saved.get(f.path, said) != said))
    return out


# --------------------------------------------------------------------------------------------
# The menu tree
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TreeNode:
    """A node in the tree shown to the editor; ``seen`` marks a node already shown above."""

    id: str
    type: str
    via: str
    label: str = ""
    seen: bool = False
    children: tuple[TreeNode, ...] = field(default_factory=tuple)


def menu_tree(model: IvrModel, language: str) -> tuple[list[TreeNode], list[str]]:
    """The nodes as a tree from each entry point, and the ids no call reaches.

    A node is expanded the first time it appears (depth first, in key order); later
    references are leaves with ``seen=True``.
    """
    shown: set[str] = set()

    def label_of(node: Node, key: str) -> str:
        for option in node.options:
            if option.key == key:
                lab = option.label
                return lab.get(language) or lab.get(model.default_language) or ""
        return ""

    def build(node_id: str, via: str, label: str) -> TreeNode:
        node = model.nodes[node_id]
        if node_id in shown:
            return TreeNode(node_id, node.type, via, label, seen=True)
        shown.add(node_id)
        children = []
        for target, reason in node.targets():
            if target in model.nodes:
                lab = label_of(node, reason) if node.type == "menu" else ""
                children.append(build(target, reason, lab))
        return TreeNode(node_id, node.type, via, label, children=tuple(children))

    roots = [build(r, "", "") for r in entry_points(model) if r in model.nodes]
    seen = reachable(model, entry_points(model))
    return roots, [n for n in model.nodes if n not in seen]
