"""The IVR as a pure state machine (requirement C1).

This module holds the resolved IVR model (frozen dataclasses) and the runtime the telephony
layer drives: :func:`start` begins a call, :func:`advance` feeds it one input (keys, spoken
words, a timeout, or whether the business is open) and returns the next :class:`Step`: what
to say in the caller's language and either the input the IVR waits for or a terminal action
(queue, callback, voicemail, transfer, hang up).

Standard library only; it never reads the clock (:func:`is_open` takes ``now``).

A way to a person works from every menu: the agent key (``"0"`` by default) and the spoken
words "persona", "agente", "operator", ... go to the IVR's agent node, as Spain's
Ley 10/2025 on customer service requires.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from typing import Literal
from zoneinfo import ZoneInfo

from escucha import languages

__pure__ = True  # imports only the standard library, NumPy, SciPy and pure modules

NodeType = Literal["menu", "queue", "info", "callback", "voicemail", "transfer", "hangup", "hours"]
TERMINAL_TYPES: frozenset[str] = frozenset({"queue", "callback", "voicemail", "transfer", "hangup"})
#: Node types where a person takes the call (now, or by calling back).
PERSON_TYPES: frozenset[str] = frozenset({"queue", "callback", "transfer"})
KEY_CHARS = "0123456789*#"

StepStatus = Literal["menu", "hours", "queue", "callback", "voicemail", "transfer", "hangup"]

# --------------------------------------------------------------------------------------------
# Built-in words
# --------------------------------------------------------------------------------------------

#: How each key is said, per language.
KEY_WORDS: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    "es": {
        "0": ("cero",),
        "1": ("uno", "una"),
        "2": ("dos",),
        "3": ("tres",),
        "4": ("cuatro",),
        "5": ("cinco",),
        "6": ("seis",),
        "7": ("siete",),
        "8": ("ocho",),
        "9": ("nueve",),
        "*": ("asterisco",),
        "#": ("almohadilla",),
    },
    "en": {
        "0": ("zero", "oh"),
        "1": ("one",),
        "2": ("two",),
        "3": ("three",),
        "4": ("four",),
        "5": ("five",),
        "6": ("six",),
        "7": ("seven",),
        "8": ("eight",),
        "9": ("nine",),
        "*": ("star",),
        "#": ("hash", "pound"),
    },
    "ca": {
        "0": ("zero",),
        "1": ("u", "un", "una"),
        "2": ("dos", "dues"),
        "3": ("tres",),
        "4": ("quatre",),
        "5": ("cinc",),
        "6": ("sis",),
        "7": ("set",),
        "8": ("vuit",),
        "9": ("nou",),
        "*": ("asterisc",),
        "#": ("coixinet",),
    },
}

DEFAULT_AGENT_KEYWORDS: Mapping[str, tuple[str, ...]] = {
    "es": ("persona", "agente", "operador", "operadora", "hablar con alguien"),
    "en": ("person", "agent", "operator", "representative", "human", "someone"),
    "ca": ("persona", "agent", "operador", "operadora", "parlar amb algú"),
}
DEFAULT_REPEAT_KEYWORDS: Mapping[str, tuple[str, ...]] = {
    "es": ("repetir", "repite", "repita", "otra vez"),
    "en": ("repeat", "again"),
    "ca": ("repetir", "repeteix", "repeteixi", "una altra vegada"),
}

#: Phrases the runtime says on its own; other languages fall back to English.
PHRASES: Mapping[str, Mapping[str, str]] = {
    "es": {
        "option": "Para {label}, pulse {key}.",
        "repeat": "Para repetir, pulse {key}.",
        "agent": "Para hablar con una persona, pulse {key}.",
        "invalid": "Esa opción no es válida.",
        "no_input": "No le he oído.",
        "goodbye": "No hemos podido atenderle. Gracias por llamar.",
        "refuse_recording": "Si no desea que se grabe la llamada, pulse {key}.",
    },
    "en": {
        "option": "For {label}, press {key}.",
        "repeat": "To hear this again, press {key}.",
        "agent": "To speak to a person, press {key}.",
        "invalid": "Sorry, that is not one of the options.",
        "no_input": "Sorry, I did not hear you.",
        "goodbye": "We could not help you this time. Thank you for calling.",
        "refuse_recording": "If you do not want this call recorded, press {key}.",
    },
    "ca": {
        "option": "Per a {label}, premi {key}.",
        "repeat": "Per tornar-ho a escoltar, premi {key}.",
        "agent": "Per parlar amb una persona, premi {key}.",
        "invalid": "Aquesta opció no és vàlida.",
        "no_input": "No l'he sentit.",
        "goodbye": "No l'hem pogut atendre. Gràcies per trucar.",
        "refuse_recording": "Si no vol que es gravi la trucada, premi {key}.",
    },
}
KEY_SAID: Mapping[str, Mapping[str, str]] = {
    "es": {"*": "asterisco", "#": "almohadilla"},
    "en": {"*": "star", "#": "hash"},
    # With the article, as a key is named in Catalan: "premi l'1", "premi el 2".
    "ca": {
        **{d: f"el {d}" for d in "023456789"},
        "1": "l'1",
        "*": "l'asterisc",
        "#": "el coixinet",
    },
}

#: Default speaking rate (words per second) used to estimate prompt length without audio.
DEFAULT_RATE_WPS: Mapping[str, float] = {
    code: lang.rate_wps for code, lang in languages.CATALOG.items()
}
FALLBACK_RATE_WPS = 2.5

# --------------------------------------------------------------------------------------------
# The resolved model
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Option:
    """One menu choice: a key, words the caller may say instead, a label and a target."""

    key: str
    goto: str
    label: Mapping[str, str] = field(default_factory=dict)
    keywords: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    language: str | None = None  # switch the caller to this language


@dataclass(frozen=True)
class Node:
    """One IVR node. Which fields matter depends on ``type``.

    ``prompt`` is the hand-written menu prompt (per language); when a language has none, the
    prompt is generated from ``intro`` and the option labels. ``agent_key`` and
    ``repeat_key`` are already resolved against the IVR-wide defaults (``None`` = off).
    ``queue`` is the queue of a queue or callback node, or the box of a voicemail node.
    """

    id: str
    type: NodeType
    prompt: Mapping[str, str] = field(default_factory=dict)
    intro: Mapping[str, str] = field(default_factory=dict)
    options: tuple[Option, ...] = ()
    agent_key: str | None = None
    agent_goto: str | None = None
    repeat_key: str | None = None
    timeout_s: float = 5.0
    retries: int = 2
    no_input_goto: str | None = None
    message: Mapping[str, str] = field(default_factory=dict)
    then: str | None = None
    queue: str | None = None
    number: str | None = None
    to_person: bool = True
    open: str | None = None
    closed: str | None = None

    def targets(self) -> list[tuple[str, str]]:
        """Every node this one can lead to, with a short reason (``"1"``, ``"then"``, ...)."""
        out: list[tuple[str, str]] = []
        if self.type == "menu":
            out.extend((o.goto, o.key) for o in self.options)
            if self.agent_key is not None and self.agent_goto is not None:
                out.append((self.agent_goto, self.agent_key))
            if self.no_input_goto is not None:
                out.append((self.no_input_goto, "no_input"))
        elif self.type == "info" and self.then is not None:
            out.append((self.then, "then"))
        elif self.type == "hours":
            if self.open is not None:
                out.append((self.open, "open"))
            if self.closed is not None:
                out.append((self.closed, "closed"))
        return out


@dataclass(frozen=True)
class BusinessHours:
    """Weekly opening hours in a time zone; ``weekly[0]`` is Monday."""

    timezone: str
    weekly: Mapping[int, tuple[tuple[time, time], ...]]
    closed_dates: frozenset[date] = frozenset()


@dataclass(frozen=True)
class RecordingNotice:
    """What callers hear before the queue when calls are recorded (ADR 24).

    ``refuse_key`` is set where the law lets callers refuse: pressing it while the notice
    plays (or within ``timeout_s`` after it) makes that call unrecorded.
    """

    text: Mapping[str, str]
    refuse_key: str | None = None
    refuse_text: Mapping[str, str] = field(default_factory=dict)
    timeout_s: float = 4.0


@dataclass(frozen=True)
class IvrModel:
    """A whole IVR, validated and with defaults resolved (see ``escucha.ivr.schemas``)."""

    languages: tuple[str, ...]
    default_language: str
    entry: str
    nodes: Mapping[str, Node]
    greeting: Mapping[str, str] = field(default_factory=dict)
    agent: str | None = None
    known_entry: str | None = None
    caller_lookup: bool = False
    speaking_rate_wps: Mapping[str, float] = field(default_factory=dict)
    jargon: tuple[str, ...] = ()
    max_options: int = 5
    max_depth: int = 3
    max_prompt_s: float = 20.0
    agent_keywords: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: dict(DEFAULT_AGENT_KEYWORDS)
    )
    repeat_keywords: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: dict(DEFAULT_REPEAT_KEYWORDS)
    )
    business_hours: BusinessHours | None = None
    recording_notice: RecordingNotice | None = None

    def rate_wps(self, language: str) -> float:
        """Speaking rate used to estimate how long a text takes to say."""
        return self.speaking_rate_wps.get(
            language, DEFAULT_RATE_WPS.get(language, FALLBACK_RATE_WPS)
        )


# --------------------------------------------------------------------------------------------
# Text helpers
# --------------------------------------------------------------------------------------------

_NON_WORD = re.compile(r"[^0-9a-z]+")


def normalise(text: str) -> str:
    """Lower case, no accents, no punctuation: ``"¡Facturación!"`` -> ``"facturacion"``."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _NON_WORD.sub(" ", bare).strip()


def words(text: str) -> list[str]:
    """The normalised words of ``text``."""
    return normalise(text).split()


def _same_word(a: str, b: str) -> bool:
    return a == b or (len(a) > 3 and len(b) > 3 and a.rstrip("s") == b.rstrip("s"))


def phrase_in(phrase: Sequence[str], tokens: Sequence[str]) -> bool:
    """Whether the words of ``phrase`` appear one after another in ``tokens``.

    Words match ignoring accents, case and a plural ``-s``.
    """
    n = len(phrase)
    if n == 0:
        return False
    return any(
        all(_same_word(phrase[j], tokens[i + j]) for j in range(n))
        for i in range(len(tokens) - n + 1)
    )


def pick(text: Mapping[str, str], language: str, default_language: str) -> str:
    """The text in ``language``, else in the default language, else any, else ``""``."""
    if language in text:
        return text[language]
    if default_language in text:
        return text[default_language]
    return next(iter(text.values()), "")


def phrase(name: str, language: str) -> str:
    """A built-in phrase in ``language`` (English when the language has none)."""
    return PHRASES.get(language, PHRASES["en"])[name]


#: The node name the recording notice's utterances and the caller's answer are recorded under.
NOTICE_NODE = "recording_notice"


def recording_notice(model: IvrModel, language: str) -> tuple[Utterance, ...]:
    """The recording notice in ``language`` (and how to refuse, where callers may): what any
    telephony adapter says before putting a recorded call in line; ``()`` when none is set."""
    notice = model.recording_notice
    if notice is None:
        return ()
    said = [
        Utterance(
            NOTICE_NODE, "message", language, pick(notice.text, language, model.default_language)
        )
    ]
    if notice.refuse_key is not None:
        refuse = notice.refuse_text.get(language) or phrase("refuse_recording", language).format(
            key=say_key(notice.refuse_key, language)
        )
        said.append(Utterance(NOTICE_NODE, "prompt", language, refuse))
    return tuple(u for u in said if u.text)


def refuses_recording(model: IvrModel, digits: str | None) -> bool:
    """Whether the keys pressed during the notice refuse the recording."""
    notice = model.recording_notice
    return bool(notice and notice.refuse_key and digits and digits[:1] == notice.refuse_key)


def say_key(key: str, language: str) -> str:
    """How a key is named inside a prompt (digits stay digits)."""
    return KEY_SAID.get(language, KEY_SAID["en"]).get(key, key)


def key_mentioned(key: str, text: str, language: str) -> bool:
    """Whether ``text`` names ``key`` (as a digit, a symbol or a word)."""
    if key in "*#" and key in text:
        return True
    tokens = words(text)
    names = {key, *KEY_WORDS.get(language, {}).get(key, ())}
    return any(t in names for t in tokens)


def spoken_key(text: str, language: str) -> str | None:
    """A key said as a word or digit alone (``"uno"``, ``"2"``), else ``None``."""
    tokens = words(text)
    if len(tokens) != 1:
        return None
    token = tokens[0]
    if len(token) == 1 and token in KEY_CHARS:
        return token
    for key, names in KEY_WORDS.get(language, {}).items():
        if token in names:
            return key
    return None


def menu_prompt(model: IvrModel, node: Node, language: str) -> str:
    """What a menu says: the written prompt, or one generated from the option labels.

    The generated prompt names the action before the key ("Para facturas, pulse 1."), then the
    repeat key and the way to a person.
    """
    if language in node.prompt:
        return node.prompt[language]
    parts: list[str] = []
    intro = pick(node.intro, language, model.default_language)
    if intro:
        parts.append(intro)
    for option in node.options:
        label = pick(option.label, language, model.default_language) or option.goto
        parts.append(
            phrase("option", language).format(label=label, key=say_key(option.key, language))
        )
    if node.repeat_key is not None:
        parts.append(phrase("repeat", language).format(key=say_key(node.repeat_key, language)))
    if node.agent_key is not None and node.agent_goto is not None:
        parts.append(phrase("agent", language).format(key=say_key(node.agent_key, language)))
    return " ".join(parts)


def node_message(model: IvrModel, node: Node, language: str) -> str:
    """The message of an info or terminal node in ``language`` (may be empty)."""
    return pick(node.message, language, model.default_language)


# --------------------------------------------------------------------------------------------
# Business hours
# --------------------------------------------------------------------------------------------


def is_open(hours: BusinessHours, now: datetime) -> bool:
    """Whether the business is open at ``now`` (a timezone-aware datetime)."""
    if now.tzinfo is None:
        raise ValueError("is_open needs a timezone-aware datetime")
    local = now.astimezone(ZoneInfo(hours.timezone))
    if local.date() in hours.closed_dates:
        return False
    moment = local.time().replace(tzinfo=None)
    return any(start <= moment < end for start, end in hours.weekly.get(local.weekday(), ()))


# --------------------------------------------------------------------------------------------
# The runtime
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Keys:
    """Keys pressed; several keys are typed ahead into the following menus."""

    digits: str


@dataclass(frozen=True)
class Speech:
    """Words the caller said (already transcribed)."""

    text: str


@dataclass(frozen=True)
class NoInput:
    """The caller did nothing before the menu's timeout."""


@dataclass(frozen=True)
class Hours:
    """Whether the business is open, for an ``hours`` node (the runtime reads no clock)."""

    is_open: bool


CallInput = Keys | Speech | NoInput | Hours


@dataclass(frozen=True)
class Utterance:
    """One thing the IVR says."""

    node: str
    kind: Literal["greeting", "prompt", "message", "invalid", "no_input", "goodbye"]
    language: str
    text: str


@dataclass(frozen=True)
class CallState:
    """Where a call is: node, language, retries at this menu and the path so far.

    ``path`` interleaves node ids and the keys that moved the call on:
    ``("main", "1", "billing")``.
    """

    node: str
    language: str
    path: tuple[str, ...] = ()
    retries: int = 0


@dataclass(frozen=True)
class Step:
    """What the IVR does next: say ``say``, then wait (``menu``/``hours``) or act."""

    state: CallState
    status: StepStatus
    say: tuple[Utterance, ...] = ()
    queue: str | None = None
    number: str | None = None
    timeout_s: float | None = None

    @property
    def terminal(self) -> bool:
        return self.status not in ("menu", "hours")

    @property
    def path_text(self) -> str:
        """The path as ``main>1>billing``."""
        return ">".join(self.state.path)


class IvrRuntimeError(ValueError):
    """The runtime was driven wrongly (an input after the call ended, a wrong input kind)."""


_MAX_AUTO_HOPS = 64


def start(
    model: IvrModel,
    *,
    language: str | None = None,
    caller_known: bool = False,
    is_open: bool | None = None,
    hour: int | None = None,
) -> Step:
    """Begin a call: the greeting, then the entry node (or the known-caller entry).

    ``language`` is the caller's language when known (caller identification); otherwise the
    IVR's default. ``is_open`` answers an ``hours`` node met on the way, if given. ``hour``
    (local, 0-23) fills ``{greeting}`` in the greeting text ("buenas tardes").
    """
    lang = language if language in model.languages else model.default_language
    entry = model.known_entry if caller_known and model.known_entry else model.entry
    said: list[Utterance] = []
    greeting = fill_greeting(pick(model.greeting, lang, model.default_language), lang, hour)
    if greeting:
        said.append(Utterance(entry, "greeting", lang, greeting))
    state = CallState(node=entry, language=lang)
    return _enter(model, entry, state, said, is_open)


def advance(model: IvrModel, step: Step, event: CallInput, *, is_open: bool | None = None) -> Step:
    """Feed one input to a waiting call and return the next step."""
    if step.terminal:
        raise IvrRuntimeError(f"the call already ended at {step.state.node!r}")
    node = model.nodes[step.state.node]
    if step.status == "hours":
        if not isinstance(event, Hours):
            raise IvrRuntimeError(f"node {node.id!r} waits for Hours(is_open=...)")
        target = node.open if event.is_open else node.closed
        return _goto(model, step.state, target, [], is_open)
    if isinstance(event, Hours):
        raise IvrRuntimeError(f"node {node.id!r} is a menu; it waits for keys or speech")
    if isinstance(event, Keys):
        if not event.digits:
            return _menu_input(model, step, node, None, is_open)
        current = step
        said: tuple[Utterance, ...] = ()
        for digit in event.digits:
            if current.status != "menu":
                break
            current = _menu_input(model, current, model.nodes[current.state.node], digit, is_open)
            said += current.say
        return replace(current, say=said)
    if isinstance(event, Speech):
        key = match_speech(model, node, event.text, step.state.language)
        if key is None:
            return _retry(model, step, node, "invalid", is_open)
        return _menu_input(model, step, node, key, is_open)
    return _retry(model, step, node, "no_input", is_open)


def match_speech(model: IvrModel, node: Node, text: str, language: str) -> str | None:
    """The key a spoken answer stands for, or ``None`` when nothing (or several) match.

    Matching ignores case, accents and a plural ``-s``; the longest matching keyword wins; a
    tie between two different keys is no match (the caller is asked again).
    """
    direct = spoken_key(text, language)
    if direct is not None:
        return direct
    tokens = words(text)
    best: dict[str, int] = {}
    for key, phrases in _keyword_table(model, node, language):
        for keyword in phrases:
            kw = words(keyword)
            if phrase_in(kw, tokens):
                best[key] = max(best.get(key, 0), len(kw))
    if not best:
        return None
    top = max(best.values())
    winners = [k for k, v in best.items() if v == top]
    return winners[0] if len(winners) == 1 else None


def _keyword_table(
    model: IvrModel, node: Node, language: str
) -> Iterable[tuple[str, tuple[str, ...]]]:
    for option in node.options:
        yield option.key, option.keywords.get(language, ())
    if node.agent_key is not None and node.agent_goto is not None:
        yield node.agent_key, model.agent_keywords.get(language, ())
    if node.repeat_key is not None:
        yield node.repeat_key, model.repeat_keywords.get(language, ())


def _menu_input(
    model: IvrModel, step: Step, node: Node, key: str | None, is_open: bool | None
) -> Step:
    state = step.state
    if key is None:
        return _retry(model, step, node, "no_input", is_open)
    for option in node.options:
        if option.key == key:
            language = option.language or state.language
            moved = replace(state, language=language, path=(*state.path, key))
            return _goto(model, moved, option.goto, [], is_open)
    if key == node.agent_key and node.agent_goto is not None:
        moved = replace(state, path=(*state.path, key))
        return _goto(model, moved, node.agent_goto, [], is_open)
    if key == node.repeat_key:
        again = replace(state, path=(*state.path, key), retries=0)
        prompt = menu_prompt(model, node, state.language)
        return Step(
            again,
            "menu",
            (Utterance(node.id, "prompt", state.language, prompt),),
            timeout_s=node.timeout_s,
        )
    return _retry(model, step, node, "invalid", is_open)


def _retry(
    model: IvrModel,
    step: Step,
    node: Node,
    why: Literal["invalid", "no_input"],
    is_open: bool | None,
) -> Step:
    state = step.state
    lang = state.language
    complaint = Utterance(node.id, why, lang, phrase(why, lang))
    if state.retries + 1 > node.retries:
        target = node.no_input_goto or node.agent_goto
        if target is None:
            bye = Utterance(node.id, "goodbye", lang, phrase("goodbye", lang))
            return Step(replace(state, retries=0), "hangup", (complaint, bye))
        return _goto(model, replace(state, retries=0), target, [complaint], is_open)
    prompt = Utterance(node.id, "prompt", lang, menu_prompt(model, node, lang))
    return Step(
        replace(state, retries=state.retries + 1),
        "menu",
        (complaint, prompt),
        timeout_s=node.timeout_s,
    )


def _goto(
    model: IvrModel,
    state: CallState,
    target: str | None,
    said: list[Utterance],
    is_open: bool | None,
) -> Step:
    if target is None:
        lang = state.language
        said.append(Utterance(state.node, "goodbye", lang, phrase("goodbye", lang)))
        return Step(state, "hangup", tuple(said))
    return _enter(model, target, replace(state, node=target, retries=0), said, is_open)


def _enter(
    model: IvrModel,
    node_id: str,
    state: CallState,
    said: list[Utterance],
    is_open: bool | None,
) -> Step:
    """Arrive at ``node_id`` and run automatic nodes (info, hours) until input or the end."""
    for _ in range(_MAX_AUTO_HOPS):
        node = model.nodes[node_id]
        state = replace(state, node=node_id, path=(*state.path, node_id), retries=0)
        lang = state.language
        if node.type == "menu":
            said.append(Utterance(node_id, "prompt", lang, menu_prompt(model, node, lang)))
            return Step(state, "menu", tuple(said), timeout_s=node.timeout_s)
        if node.type == "hours":
            if is_open is None:
                return Step(state, "hours", tuple(said))
            target = node.open if is_open else node.closed
            if target is None:  # pragma: no cover - the schema requires both branches
                break
            node_id = target
            continue
        message = node_message(model, node, lang)
        if message:
            said.append(Utterance(node_id, "message", lang, message))
        if node.type == "info":
            if node.then is None:
                return Step(state, "hangup", tuple(said))
            node_id = node.then
            continue
        return Step(state, node.type, tuple(said), queue=node.queue, number=node.number)
    said.append(Utterance(state.node, "goodbye", state.language, phrase("goodbye", state.language)))
    return Step(state, "hangup", tuple(said))


# --------------------------------------------------------------------------------------------
# Graph helpers shared by the lint and the journey test
# --------------------------------------------------------------------------------------------


def leads_to_person(model: IvrModel, node_id: str) -> bool:
    """Whether arriving at ``node_id`` puts the caller with a person without more choices.

    Info nodes pass through; an hours node counts when either branch does.
    """
    seen: set[str] = set()
    stack = [node_id]
    while stack:
        current = stack.pop()
        if current in seen or current not in model.nodes:
            continue
        seen.add(current)
        node = model.nodes[current]
        if node.type in PERSON_TYPES and node.to_person:
            return True
        if node.type == "info" and node.then is not None:
            stack.append(node.then)
        elif node.type == "hours":
            stack.extend(t for t in (node.open, node.closed) if t is not None)
    return False


def reachable(model: IvrModel, roots: Iterable[str]) -> set[str]:
    """Node ids reachable from ``roots``."""
    seen: set[str] = set()
    stack = [r for r in roots if r in model.nodes]
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        stack.extend(t for t, _ in model.nodes[current].targets() if t in model.nodes)
    return seen


def entry_points(model: IvrModel) -> list[str]:
    """Where calls begin: the entry node and, with caller identification, the known entry."""
    roots = [model.entry]
    if model.known_entry is not None:
        roots.append(model.known_entry)
    return roots


def split_path(path: str) -> list[str]:
    """``"main>1>billing"`` -> ``["main", "1", "billing"]``."""
    return [p.strip() for p in path.split(">") if p.strip()]


def is_key(token: str) -> bool:
    """Whether a path element is a key (``1``, ``*``) rather than a node id."""
    return bool(token) and all(c in KEY_CHARS for c in token)


# --------------------------------------------------------------------------------------------
# Everything the IVR says, and how long it takes
# --------------------------------------------------------------------------------------------

Loc = tuple[str | int, ...]
#: Measured durations, keyed by ``(language, text)``.
Durations = Mapping[tuple[str, str], float]


@dataclass(frozen=True)
class Spoken:
    """One text the IVR may say, with where it comes from in the YAML."""

    path: Loc
    node: str
    kind: Literal["greeting", "prompt", "message"]
    language: str
    text: str
    written: bool  # False for a prompt generated from the option labels


GREETING_SLOT = "{greeting}"
#: The hour a greeting is shown and measured at when no call is under way (the lint, audio).
SAMPLE_HOUR = 10


def fill_greeting(text: str, language: str, hour: int | None) -> str:
    """``"Aguas del Manzanares, {greeting}."`` -> ``"Aguas del Manzanares, buenas tardes."``
    by the local ``hour`` (capitalised at the start of the text)."""
    if GREETING_SLOT not in text:
        return text
    said = languages.greeting(language, SAMPLE_HOUR if hour is None else hour)
    if text.startswith(GREETING_SLOT):
        return said + text[len(GREETING_SLOT) :].replace(GREETING_SLOT, said.lower())
    return text.replace(GREETING_SLOT, said.lower())


def spoken_texts(model: IvrModel) -> list[Spoken]:
    """Greeting, menu prompts (written or generated) and messages, in every language."""
    out: list[Spoken] = []
    for lang in model.languages:
        if lang in model.greeting:
            out.append(
                Spoken(
                    ("greeting", lang),
                    model.entry,
                    "greeting",
                    lang,
                    fill_greeting(model.greeting[lang], lang, None),
                    True,
                )
            )
    for node in model.nodes.values():
        base: Loc = ("nodes", node.id)
        for lang in model.languages:
            if node.type == "menu":
                written = lang in node.prompt
                path = (*base, "prompt", lang) if written else base
                text = menu_prompt(model, node, lang)
                out.append(Spoken(path, node.id, "prompt", lang, text, written))
            elif lang in node.message:
                out.append(
                    Spoken(
                        (*base, "message", lang), node.id, "message", lang, node.message[lang], True
                    )
                )
    return out


def speech_seconds(
    model: IvrModel, language: str, text: str, durations: Durations | None = None
) -> tuple[float, bool]:
    """Seconds to say ``text``: measured when ``durations`` has it, else estimated.

    The estimate is the word count divided by the speaking rate in words per second. Returns
    ``(seconds, measured)``.
    """
    if durations is not None and (language, text) in durations:
        return durations[(language, text)], True
    return len(words(text)) / model.rate_wps(language), False
