"""IVR lint: rules that keep a menu clear without being too detailed (requirement C1).

Each rule has an id, a severity, an explanation and a fix hint, written as English message ids
that the caller words in its language through the catalogs (:mod:`escucha.i18n`); a finding
carries its rule and the named fields of its message.
:func:`lint` is pure: it reads the model and, optionally, durations measured from rendered
audio (``{(language, text): seconds}``); without them prompt length is estimated from the
speaking rate. Errors make ``escucha ivr lint`` exit non-zero.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

from escucha import languages
from escucha.ivr.rules import (
    KEY_WORDS,
    TERMINAL_TYPES,
    Durations,
    IvrModel,
    Loc,
    Node,
    entry_points,
    key_mentioned,
    leads_to_person,
    phrase_in,
    reachable,
    speech_seconds,
    spoken_texts,
    words,
)

__pure__ = True  # imports only the standard library, NumPy, SciPy and pure modules

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Message:
    """An English message id and its named fields: the caller words it in a language through
    the catalogs (:func:`escucha.ivr.service.say`). A field may itself be a message."""

    id: str
    fields: Mapping[str, Value] = field(default_factory=dict)


Value: TypeAlias = "str | int | float | Message"


@dataclass(frozen=True)
class Rule:
    """A lint rule; its texts are English message ids (the catalogs word them), ``template``
    with the ``{fields}`` of a finding."""

    id: str
    severity: Severity
    title: str
    explanation: str
    fix: str
    template: str


_RULE_LIST: tuple[Rule, ...] = (
    Rule(
        "unknown-language",
        "error",
        "Unknown language",
        (
            "escucha has no voice, built-in sentences or messages in that language: a caller who "
            "chose it would hear another language half the time."
        ),
        "Use a language of the catalog or add it to the catalog (README).",
        'language "{lang}" is not in the catalog ({known})',
    ),
    Rule(
        "person",
        "error",
        "Way to a person",
        (
            "From every menu, the main one included, the caller must be able to reach a person. "
            "Without it they feel trapped; Spain's Ley 10/2025 requires it."
        ),
        (
            "Set `agent:` (a queue, callback or transfer node) and do not turn `agent_key` off in "
            "the menu, or add an option that goes to the `agent:` node."
        ),
        "menu '{node}' offers no way to a person",
    ),
    Rule(
        "max-options",
        "warning",
        "Too many options",
        (
            "Nobody remembers more than a few options heard once; with too many the caller listens "
            "again or picks at random."
        ),
        (
            "Group options into a submenu, drop rarely used ones (see `escucha ivr test --calls`), "
            "or raise `max_options` if justified."
        ),
        "menu '{node}' has {count} options (at most {max})",
    ),
    Rule(
        "max-depth",
        "warning",
        "Menu too deep",
        "Every level adds listening and another decision; past the third the caller gets lost.",
        "Move frequent options up a level or let callers say keywords.",
        "menu '{node}' is at level {depth} (at most {max})",
    ),
    Rule(
        "repeat",
        "warning",
        "No repeat option",
        "A caller who missed an option needs to hear the menu again without calling back.",
        "Keep the default `repeat_key` (9) or set one in the menu.",
        "menu '{node}' has no repeat option",
    ),
    Rule(
        "prompt-length",
        "warning",
        "Prompt too long",
        "A long prompt makes people wait and is forgotten; clear is not the same as detailed.",
        "Shorten the text, drop pleasantries and explanations, or split the menu.",
        "'{node}' ({lang}) takes {seconds:.1f} s, {how} (at most {max:g} s)",
    ),
    Rule(
        "action-before-key",
        "warning",
        "Action before the key",
        (
            "Callers listen for their task, not a number: hearing the key first means holding it "
            "in memory until they know what it is for."
        ),
        'Say the action first, then the key: "for bills, press 1".',
        "'{node}' ({lang}) says the key before the action: \"{excerpt}\"",
    ),
    Rule(
        "unreachable",
        "warning",
        "Unreachable node",
        "No call can reach this node from the entry; it is usually left over or a broken link.",
        "Link it from a menu (`goto`) or delete it.",
        "no call reaches '{node}'",
    ),
    Rule(
        "dead-end",
        "error",
        "Dead end",
        (
            "The caller reaches a point where they can choose nothing, nobody takes the call and "
            "the call is dropped."
        ),
        (
            "Give the information node a `then` (back to a menu) or end with `hangup` and a "
            "message; give the menu options."
        ),
        "'{node}' ({type}) leads nowhere",
    ),
    Rule(
        "loop-no-exit",
        "error",
        "Loop with no exit",
        (
            "Nodes that send calls to each other and never reach a queue, voicemail, a person or "
            "an end: the caller goes round until they hang up."
        ),
        "Add a way out of the loop (the person key or a final option).",
        "nodes {nodes} form a loop with no exit",
    ),
    Rule(
        "keyword-overlap",
        "error",
        "Overlapping keywords",
        (
            "If the same word fits two options, what the caller says does not decide where they go "
            "and they are asked again."
        ),
        "Use different words for each option of the menu.",
        'menu \'{node}\' ({lang}): "{word}" (key {key}) overlaps "{other}" (key {other_key})',
    ),
    Rule(
        "jargon",
        "warning",
        "Jargon",
        "Internal or technical words make callers feel they do not know what to choose.",
        'Use the caller\'s words ("fault", "bill"); tune the list with `jargon:`.',
        "'{node}' ({lang}) uses the jargon \"{term}\"",
    ),
    Rule(
        "missing-translation",
        "warning",
        "Missing translation",
        "A caller in another language hears this text in the default language, or not at all.",
        "Write the text in every language of `languages`.",
        "{what} has no {missing} text",
    ),
    Rule(
        "duplicate-key",
        "error",
        "Duplicate key",
        "A key can lead to one place only; the second option is never reached.",
        "Give each option its own key, different from the person and repeat keys.",
        "menu '{node}': key {key} is used for {uses}",
    ),
    Rule(
        "keys-not-announced",
        "warning",
        "Keys not announced",
        (
            "An option the prompt does not name does not exist for the caller, least of all the "
            "way to a person."
        ),
        (
            "Name every key in the written prompt, or delete it and let it be generated from the "
            "labels."
        ),
        "the prompt of '{node}' ({lang}) does not name key(s) {keys}",
    ),
    Rule(
        "recording-notice",
        "warning",
        "Recording without a notice",
        (
            "Calls are recorded (ESCUCHA_RECORD_CALLS) and callers must hear it before they talk "
            "to anyone, in their language."
        ),
        (
            "Write `recording_notice.text` in every language of the IVR (and `refuse_key` where "
            "the law lets callers refuse)."
        ),
        "calls are recorded and there is no recording notice in: {missing}",
    ),
)

RULES: Mapping[str, Rule] = {r.id: r for r in _RULE_LIST}


@dataclass(frozen=True)
class Finding:
    """One rule firing at a YAML path (``file`` and ``line`` are added by the service)."""

    rule: str
    path: Loc
    args: Mapping[str, Value] = field(default_factory=dict)
    file: str | None = None
    line: int | None = None

    @property
    def severity(self) -> Severity:
        return RULES[self.rule].severity

    @property
    def message(self) -> Message:
        return Message(RULES[self.rule].template, self.args)

    @property
    def fix(self) -> Message:
        return Message(RULES[self.rule].fix)


def lint(
    model: IvrModel, *, durations: Durations | None = None, recording: bool = False
) -> list[Finding]:
    """Every finding for ``model``, errors first, in node order; ``recording``: calls are
    recorded, so each language needs a recording notice."""
    found: list[Finding] = []
    for check in (
        _unknown_languages,
        _person,
        _duplicate_keys,
        _dead_ends,
        _loops,
        _keyword_overlap,
        _max_options,
        _depth,
        _repeat,
        _unreachable,
        _keys_not_announced,
        _action_before_key,
        _jargon,
        _missing_translations,
    ):
        found.extend(check(model))
    found.extend(_prompt_length(model, durations))
    if recording:
        found.extend(_recording_notice(model))
    order = {r.id: i for i, r in enumerate(_RULE_LIST)}
    return sorted(found, key=lambda f: (f.severity != "error", order[f.rule]))


def errors(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == "error"]


# --------------------------------------------------------------------------------------------
# The rules
# --------------------------------------------------------------------------------------------


def _menus(model: IvrModel) -> list[Node]:
    return [n for n in model.nodes.values() if n.type == "menu"]


def _loc(node: Node) -> Loc:
    return ("nodes", node.id)


def _agent_on(node: Node) -> bool:
    return node.agent_key is not None and node.agent_goto is not None


def _person(model: IvrModel) -> list[Finding]:
    """The agent key, or an option to the agent node, must lead to a person.

    Options to a subject queue do not count: the caller must not have to guess a subject to
    be heard by someone.
    """
    out: list[Finding] = []
    for node in _menus(model):
        person = node.agent_goto if _agent_on(node) else model.agent
        via_agent = _agent_on(node) and leads_to_person(model, node.agent_goto or "")
        via_option = person is not None and any(
            o.goto == person and leads_to_person(model, o.goto) for o in node.options
        )
        if not (via_agent or via_option):
            out.append(Finding("person", _loc(node), {"node": node.id}))
    return out


def _max_options(model: IvrModel) -> list[Finding]:
    return [
        Finding(
            "max-options",
            (*_loc(n), "options"),
            {"node": n.id, "count": len(n.options), "max": model.max_options},
        )
        for n in _menus(model)
        if len(n.options) > model.max_options
    ]


def menu_depths(model: IvrModel) -> dict[str, int]:
    """Fewest menus a caller passes to arrive at each node (the entry menu is level 1)."""

    def weight(node_id: str) -> int:
        return 1 if model.nodes[node_id].type == "menu" else 0

    depth: dict[str, int] = {}
    queue: deque[tuple[str, int]] = deque()
    for root in entry_points(model):
        queue.append((root, weight(root)))
    while queue:
        node_id, d = queue.popleft()
        if node_id in depth and depth[node_id] <= d:
            continue
        depth[node_id] = d
        for target, _ in model.nodes[node_id].targets():
            w = weight(target)
            if w:
                queue.append((target, d + 1))
            else:
                queue.appendleft((target, d))
    return depth


def _depth(model: IvrModel) -> list[Finding]:
    depths = menu_depths(model)
    return [
        Finding("max-depth", _loc(n), {"node": n.id, "depth": depths[n.id], "max": model.max_depth})
        for n in _menus(model)
        if depths.get(n.id, 0) > model.max_depth
    ]


def _repeat(model: IvrModel) -> list[Finding]:
    return [
        Finding("repeat", _loc(n), {"node": n.id}) for n in _menus(model) if n.repeat_key is None
    ]


def _prompt_length(model: IvrModel, durations: Durations | None) -> list[Finding]:
    out: list[Finding] = []
    for spoken in spoken_texts(model):
        seconds, measured = speech_seconds(model, spoken.language, spoken.text, durations)
        if seconds > model.max_prompt_s:
            rate = model.rate_wps(spoken.language)
            how = (
                Message("measured from the audio")
                if measured
                else Message("estimated at {rate:g} words/s", {"rate": rate})
            )
            out.append(
                Finding(
                    "prompt-length",
                    spoken.path,
                    {
                        "node": spoken.node if spoken.kind != "greeting" else "greeting",
                        "lang": spoken.language,
                        "seconds": round(seconds, 1),
                        "how": how,
                        "max": model.max_prompt_s,
                    },
                )
            )
    return out


_VERBS = (
    "pulse|pulsa|pulsar|marque|marca|presione|presiona|oprima|oprime|teclee|diga|di|"
    "press|push|dial|enter|say|select"
)
_KEYS = "|".join(
    sorted(
        {"[0-9]", *(w for lang in KEY_WORDS.values() for names in lang.values() for w in names)},
        key=len,
        reverse=True,
    )
)
_KEY_FIRST = re.compile(
    rf"\b(?:{_VERBS})\s+(?:el\s+|la\s+tecla\s+|tecla\s+|the\s+|key\s+)?(?:{_KEYS})\s+"
    r"(?:para|si|por|for|to|if)\b"
)
_CLAUSE = re.compile(r"[,.;:!?¡¿\n]+")


def key_before_action(text: str) -> str | None:
    """The clause of ``text`` that names the key before the action, if any."""
    for clause in _CLAUSE.split(text):
        bare = " ".join(words(clause.replace("*", " asterisco ").replace("#", " almohadilla ")))
        if _KEY_FIRST.search(bare):
            return clause.strip()
    return None


def _action_before_key(model: IvrModel) -> list[Finding]:
    out: list[Finding] = []
    for spoken in spoken_texts(model):
        if not spoken.written:
            continue
        excerpt = key_before_action(spoken.text)
        if excerpt is not None:
            out.append(
                Finding(
                    "action-before-key",
                    spoken.path,
                    {"node": spoken.node, "lang": spoken.language, "excerpt": excerpt},
                )
            )
    return out


def _unreachable(model: IvrModel) -> list[Finding]:
    seen = reachable(model, entry_points(model))
    return [
        Finding("unreachable", ("nodes", node_id), {"node": node_id})
        for node_id in model.nodes
        if node_id not in seen
    ]


def _dead_ends(model: IvrModel) -> list[Finding]:
    out: list[Finding] = []
    for node in model.nodes.values():
        stuck = (node.type == "info" and node.then is None) or (
            node.type == "menu" and not node.options and not _agent_on(node)
        )
        if stuck:
            out.append(Finding("dead-end", _loc(node), {"node": node.id, "type": node.type}))
    return out


def _loops(model: IvrModel) -> list[Finding]:
    """Strongly connected groups of nodes from which no call can finish."""
    ends = {n.id for n in model.nodes.values() if n.type in TERMINAL_TYPES}
    ends |= {n.id for n in model.nodes.values() if n.type == "info" and n.then is None}
    reverse: dict[str, set[str]] = {node_id: set() for node_id in model.nodes}
    for node in model.nodes.values():
        for target, _ in node.targets():
            reverse[target].add(node.id)
    can_finish: set[str] = set()
    stack = list(ends)
    while stack:
        current = stack.pop()
        if current in can_finish:
            continue
        can_finish.add(current)
        stack.extend(reverse[current])
    reach = {node_id: reachable(model, [node_id]) for node_id in model.nodes}
    out: list[Finding] = []
    done: set[str] = set()
    for node_id in model.nodes:
        if node_id in done or node_id in can_finish:
            continue
        targets = [t for t, _ in model.nodes[node_id].targets()]
        if not any(node_id in reach[t] for t in targets):
            continue  # not on a cycle
        group = sorted(n for n in reach[node_id] if node_id in reach[n])
        done.update(group)
        out.append(Finding("loop-no-exit", ("nodes", node_id), {"nodes": ", ".join(group)}))
    return out


def _keyword_overlap(model: IvrModel) -> list[Finding]:
    out: list[Finding] = []
    for node in _menus(model):
        for lang in model.languages:
            entries: list[tuple[str, str, Loc]] = []
            for i, option in enumerate(node.options):
                loc = (*_loc(node), "options", i, "keywords", lang)
                entries.extend((option.key, kw, loc) for kw in option.keywords.get(lang, ()))
            if _agent_on(node) and node.agent_key is not None:
                entries.extend(
                    (node.agent_key, kw, ("agent_keywords", lang))
                    for kw in model.agent_keywords.get(lang, ())
                )
            if node.repeat_key is not None:
                entries.extend(
                    (node.repeat_key, kw, ("repeat_keywords", lang))
                    for kw in model.repeat_keywords.get(lang, ())
                )
            for a in range(len(entries)):
                for b in range(a + 1, len(entries)):
                    key_a, word_a, loc_a = entries[a]
                    key_b, word_b, loc_b = entries[b]
                    if key_a == key_b:
                        continue
                    wa, wb = words(word_a), words(word_b)
                    if phrase_in(wa, wb) or phrase_in(wb, wa):
                        loc = loc_b if loc_b[0] == "nodes" else loc_a
                        out.append(
                            Finding(
                                "keyword-overlap",
                                loc,
                                {
                                    "node": node.id,
                                    "lang": lang,
                                    "word": word_b,
                                    "key": key_b,
                                    "other": word_a,
                                    "other_key": key_a,
                                },
                            )
                        )
    return out


def _jargon(model: IvrModel) -> list[Finding]:
    terms = [(term, words(term)) for term in model.jargon]
    out: list[Finding] = []
    for spoken in spoken_texts(model):
        tokens = words(spoken.text)
        out.extend(
            Finding(
                "jargon",
                spoken.path,
                {"node": spoken.node, "lang": spoken.language, "term": term},
            )
            for term, term_words in terms
            if phrase_in(term_words, tokens)
        )
    return out


def _recording_notice(model: IvrModel) -> list[Finding]:
    texts = model.recording_notice.text if model.recording_notice else {}
    missing = [lang for lang in model.languages if not texts.get(lang)]
    if not missing:
        return []
    return [Finding("recording-notice", ("recording_notice",), {"missing": ", ".join(missing)})]


def _missing(
    model: IvrModel, path: Loc, what: str, texts: Mapping[str, object], required: bool = False
) -> Finding | None:
    if not texts and not required:
        return None
    # A language the catalog lacks is reported once, by unknown-language.
    missing = [lang for lang in model.languages if lang not in texts and languages.known(lang)]
    if not missing:
        return None
    return Finding("missing-translation", path, {"what": what, "missing": ", ".join(missing)})


def _missing_translations(model: IvrModel) -> list[Finding]:
    found = [_missing(model, ("greeting",), "greeting", model.greeting)]
    for node in model.nodes.values():
        base = _loc(node)
        if node.type == "menu":
            found.append(_missing(model, (*base, "prompt"), f"{node.id}.prompt", node.prompt))
            found.append(_missing(model, (*base, "intro"), f"{node.id}.intro", node.intro))
            generated = [lang for lang in model.languages if lang not in node.prompt]
            for i, option in enumerate(node.options):
                where = f"{node.id}.options[{i}]"
                if generated:
                    found.append(
                        _missing(
                            model,
                            (*base, "options", i, "label"),
                            f"{where}.label",
                            option.label,
                            required=True,
                        )
                    )
                found.append(
                    _missing(
                        model,
                        (*base, "options", i, "keywords"),
                        f"{where}.keywords",
                        option.keywords,
                    )
                )
        else:
            found.append(
                _missing(
                    model,
                    (*base, "message"),
                    f"{node.id}.message",
                    node.message,
                    required=node.type in ("info", "hangup"),
                )
            )
    return [f for f in found if f is not None]


def _unknown_languages(model: IvrModel) -> list[Finding]:
    """Every language the IVR offers must be one escucha speaks (catalog, phrases, keys)."""
    known = ", ".join(languages.CODES)
    return [
        Finding("unknown-language", ("languages", i), {"lang": lang, "known": known})
        for i, lang in enumerate(model.languages)
        if not (languages.known(lang) and languages.base(lang) in KEY_WORDS)
    ]


def _keys_not_announced(model: IvrModel) -> list[Finding]:
    out: list[Finding] = []
    for node in _menus(model):
        keys = [o.key for o in node.options]
        if node.repeat_key is not None:
            keys.append(node.repeat_key)
        if _agent_on(node) and node.agent_key is not None:
            keys.append(node.agent_key)
        for lang, text in node.prompt.items():
            silent = [k for k in keys if not key_mentioned(k, text, lang)]
            if silent:
                out.append(
                    Finding(
                        "keys-not-announced",
                        (*_loc(node), "prompt", lang),
                        {"node": node.id, "lang": lang, "keys": ", ".join(silent)},
                    )
                )
    return out


def _duplicate_keys(model: IvrModel) -> list[Finding]:
    out: list[Finding] = []
    for node in _menus(model):
        uses: dict[str, list[str]] = {}
        for option in node.options:
            uses.setdefault(option.key, []).append(f"goto {option.goto}")
        if _agent_on(node) and node.agent_key is not None:
            uses.setdefault(node.agent_key, []).append("agent")
        if node.repeat_key is not None:
            uses.setdefault(node.repeat_key, []).append("repeat")
        for key, what in uses.items():
            if len(what) > 1:
                out.append(
                    Finding(
                        "duplicate-key",
                        (*_loc(node), "options"),
                        {"node": node.id, "key": key, "uses": " / ".join(what)},
                    )
                )
    return out
