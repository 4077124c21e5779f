"""The IVR as written in YAML (requirement C1), validated with pydantic.

An IVR lives under the ``ivr:`` key of the organisation YAML, or alone in its own file.
:func:`validate_ivr` checks the structure and the references between nodes and reports every
problem as ``file:line: path: reason``; :meth:`IvrSpec.to_model` resolves the defaults into the
frozen model the runtime (:mod:`escucha.ivr.rules`) and the lint work on.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import date, time
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from escucha import languages
from escucha.ivr import rules
from escucha.yamlio import YamlFileError, YamlProblem, dotted, line_of, to_plain

Loc = tuple[str | int, ...]


def _as_str(value: Any) -> Any:
    """YAML reads ``key: 1`` as a number; keys are strings."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


NodeId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
Key = Annotated[str, BeforeValidator(_as_str), Field(pattern=r"^[0-9*#]$")]
Lang = Annotated[str, Field(pattern=r"^[a-z]{2,3}(-[A-Z]{2})?$")]
Text = Annotated[str, Field(min_length=1, max_length=2000)]
LangText = dict[Lang, Text]

#: The languages of an IVR that does not list its own.
DEFAULT_LANGUAGES: tuple[str, ...] = ("es", "en")
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OptionSpec(_Spec):
    """A menu choice. ``keywords`` are words a caller may say instead of pressing the key."""

    key: Key
    goto: NodeId
    label: LangText = {}
    keywords: dict[Lang, list[Text]] = {}
    language: Lang | None = None


class NoInputSpec(_Spec):
    """After ``retries`` failed tries (silence or a wrong key) go to ``then``.

    Without ``then`` the caller goes to the IVR's agent node (or hears goodbye when none).
    """

    retries: int = Field(default=2, ge=0, le=5)
    then: NodeId | None = None


class MenuSpec(_Spec):
    type: Literal["menu"]
    prompt: LangText = {}
    intro: LangText = {}
    options: list[OptionSpec] = []
    agent_key: Key | None = None
    agent_goto: NodeId | None = None
    repeat_key: Key | None = None
    timeout_s: float = Field(default=5.0, gt=0, le=60)
    no_input: NoInputSpec = NoInputSpec()


class QueueSpec(_Spec):
    type: Literal["queue"]
    queue: Text
    message: LangText = {}


class InfoSpec(_Spec):
    """Self-service information, then (usually) back to a menu."""

    type: Literal["info"]
    message: LangText
    then: NodeId | None = None


class CallbackSpec(_Spec):
    type: Literal["callback"]
    queue: Text
    message: LangText = {}


class VoicemailSpec(_Spec):
    type: Literal["voicemail"]
    box: Text | None = None
    message: LangText = {}


class TransferSpec(_Spec):
    type: Literal["transfer"]
    number: Text
    to_person: bool = True
    message: LangText = {}

    @field_validator("number")
    @classmethod
    def _e164(cls, value: str) -> str:
        try:
            parsed = phonenumbers.parse(value, None)
        except phonenumbers.NumberParseException as exc:
            raise ValueError(f"not a phone number in E.164 form (+34...): {exc}") from exc
        if not phonenumbers.is_possible_number(parsed):
            raise ValueError("not a possible phone number")
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


class HangupSpec(_Spec):
    type: Literal["hangup"]
    message: LangText


class HoursSpec(_Spec):
    """A business-hours branch: ``open`` while open, ``closed`` otherwise."""

    type: Literal["hours"]
    open: NodeId
    closed: NodeId


NodeSpec = Annotated[
    MenuSpec
    | QueueSpec
    | InfoSpec
    | CallbackSpec
    | VoicemailSpec
    | TransferSpec
    | HangupSpec
    | HoursSpec,
    Field(discriminator="type"),
]
NODE_TYPES: frozenset[str] = frozenset(
    {"menu", "queue", "info", "callback", "voicemail", "transfer", "hangup", "hours"}
)


class CallerIdSpec(_Spec):
    """Caller identification by number: known callers may start at ``known_entry``."""

    lookup: bool = True
    known_entry: NodeId | None = None


def _parse_span(value: str) -> tuple[time, time]:
    try:
        start_s, end_s = (p.strip() for p in value.split("-"))
        start = time.fromisoformat(start_s)
        end = time.max if end_s == "24:00" else time.fromisoformat(end_s)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a span like 08:00-20:00") from exc
    if end <= start:
        raise ValueError(f"{value!r} ends before it starts")
    return start, end


class BusinessHoursSpec(_Spec):
    """Weekly opening hours (``mon: [08:00-14:00, 15:00-19:00]``) and closed dates."""

    timezone: Text = languages.DEFAULT_ZONE
    weekly: dict[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"], list[Text]] = {}
    closed_dates: list[date] = []

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("weekly")
    @classmethod
    def _spans(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for spans in value.values():
            for span in spans:
                _parse_span(span)
        return value

    def to_model(self) -> rules.BusinessHours:
        weekly = {
            WEEKDAYS.index(day): tuple(_parse_span(s) for s in spans)
            for day, spans in self.weekly.items()
        }
        return rules.BusinessHours(self.timezone, weekly, frozenset(self.closed_dates))


class RecordingNoticeSpec(_Spec):
    """Said before the queue when calls are recorded (``ESCUCHA_RECORD_CALLS``), one text per
    language. ``refuse_key``, where the law lets callers refuse, makes that call unrecorded;
    ``refuse_text`` says how (generated from the key when not written)."""

    text: LangText = Field(min_length=1)
    refuse_key: Key | None = None
    refuse_text: LangText = {}
    timeout_s: float = Field(default=4.0, gt=0, le=15)

    def to_model(self) -> rules.RecordingNotice:
        return rules.RecordingNotice(
            text=dict(self.text),
            refuse_key=self.refuse_key,
            refuse_text=dict(self.refuse_text),
            timeout_s=self.timeout_s,
        )


class IvrSpec(_Spec):
    """A whole IVR. Menus inherit ``agent_key`` and ``repeat_key`` unless they set their own
    (``null`` turns a key off in that menu); the agent key leads to ``agent``."""

    languages: list[Lang] = Field(default=list(DEFAULT_LANGUAGES), min_length=1)
    default_language: Lang | None = None
    entry: NodeId = "main"
    greeting: LangText = {}
    agent: NodeId | None = None
    agent_key: Key | None = "0"
    repeat_key: Key | None = "9"
    speaking_rate_wps: dict[Lang, Annotated[float, Field(gt=0.5, lt=10)]] = {}
    jargon: list[Text] | None = None
    max_options: int = Field(default=5, ge=1, le=12)
    max_depth: int = Field(default=3, ge=1, le=10)
    max_prompt_s: float = Field(default=20.0, gt=0, le=300)
    agent_keywords: dict[Lang, list[Text]] | None = None
    repeat_keywords: dict[Lang, list[Text]] | None = None
    caller_id: CallerIdSpec | None = None
    business_hours: BusinessHoursSpec | None = None
    recording_notice: RecordingNoticeSpec | None = None
    nodes: dict[NodeId, NodeSpec] = Field(min_length=1)

    @property
    def language(self) -> str:
        """The default language (the first listed when not given)."""
        return self.default_language or self.languages[0]

    def to_model(self) -> rules.IvrModel:
        """The frozen model with defaults resolved."""
        nodes = {node_id: self._node(node_id, spec) for node_id, spec in self.nodes.items()}
        return rules.IvrModel(
            languages=tuple(self.languages),
            default_language=self.language,
            entry=self.entry,
            nodes=nodes,
            greeting=dict(self.greeting),
            agent=self.agent,
            known_entry=self.caller_id.known_entry if self.caller_id else None,
            caller_lookup=bool(self.caller_id and self.caller_id.lookup),
            speaking_rate_wps=dict(self.speaking_rate_wps),
            jargon=tuple(DEFAULT_JARGON if self.jargon is None else self.jargon),
            max_options=self.max_options,
            max_depth=self.max_depth,
            max_prompt_s=self.max_prompt_s,
            agent_keywords=_keywords(self.agent_keywords, rules.DEFAULT_AGENT_KEYWORDS),
            repeat_keywords=_keywords(self.repeat_keywords, rules.DEFAULT_REPEAT_KEYWORDS),
            business_hours=self.business_hours.to_model() if self.business_hours else None,
            recording_notice=(self.recording_notice.to_model() if self.recording_notice else None),
        )

    def _node(self, node_id: str, spec: Any) -> rules.Node:
        if isinstance(spec, MenuSpec):
            fields = spec.model_fields_set
            return rules.Node(
                id=node_id,
                type="menu",
                prompt=dict(spec.prompt),
                intro=dict(spec.intro),
                options=tuple(
                    rules.Option(
                        key=o.key,
                        goto=o.goto,
                        label=dict(o.label),
                        keywords={k: tuple(v) for k, v in o.keywords.items()},
                        language=o.language,
                    )
                    for o in spec.options
                ),
                agent_key=spec.agent_key if "agent_key" in fields else self.agent_key,
                agent_goto=spec.agent_goto or self.agent,
                repeat_key=spec.repeat_key if "repeat_key" in fields else self.repeat_key,
                timeout_s=spec.timeout_s,
                retries=spec.no_input.retries,
                no_input_goto=spec.no_input.then,
            )
        if isinstance(spec, HoursSpec):
            return rules.Node(id=node_id, type="hours", open=spec.open, closed=spec.closed)
        if isinstance(spec, InfoSpec):
            return rules.Node(id=node_id, type="info", message=dict(spec.message), then=spec.then)
        if isinstance(spec, TransferSpec):
            return rules.Node(
                id=node_id,
                type="transfer",
                number=spec.number,
                to_person=spec.to_person,
                message=dict(spec.message),
            )
        if isinstance(spec, QueueSpec | CallbackSpec):
            return rules.Node(
                id=node_id, type=spec.type, queue=spec.queue, message=dict(spec.message)
            )
        assert isinstance(spec, VoicemailSpec | HangupSpec)  # noqa: S101 - exhaustive union
        return rules.Node(
            id=node_id,
            type=spec.type,
            queue=getattr(spec, "box", None),
            message=dict(spec.message),
        )


#: Words customers rarely understand; ``jargon:`` in the IVR replaces this list.
DEFAULT_JARGON: tuple[str, ...] = (
    "IVR",
    "ACD",
    "SLA",
    "CRM",
    "ticket",
    "backoffice",
    "back office",
    "front office",
    "escalado",
    "escalation",
    "tipificación",
    "provisioning",
    "aprovisionamiento",
    "MSISDN",
    "FTTH",
    "ONT",
    "CUPS",
    "acometida",
    "segundo nivel",
    "second level",
    "tier",
)


def _keywords(
    given: dict[str, list[str]] | None, default: Mapping[str, tuple[str, ...]]
) -> dict[str, tuple[str, ...]]:
    if given is None:
        return dict(default)
    return {lang: tuple(words) for lang, words in given.items()}


# --------------------------------------------------------------------------------------------
# Validation with lines
# --------------------------------------------------------------------------------------------


def _clean_loc(loc: Sequence[Any]) -> Loc:
    """Drop the discriminator pydantic adds after a node id (``nodes.main.menu.options``)."""
    out: list[str | int] = [k for k in loc if isinstance(k, str | int) and k != "[key]"]
    if len(out) > 2 and out[0] == "nodes" and out[2] in NODE_TYPES:
        del out[2]
    return tuple(out)


def validate_ivr(document: Any, filename: str, prefix: Loc = ()) -> IvrSpec:
    """Validate the IVR at ``prefix`` of a loaded YAML document.

    Raises :class:`~escucha.yamlio.YamlFileError` listing every problem with its line.
    """
    node = document
    for key in prefix:
        node = node[key]
    try:
        spec = IvrSpec.model_validate(to_plain(node))
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = (*prefix, *_clean_loc(err["loc"]))
            problems.append(YamlProblem(filename, line_of(document, loc), dotted(loc), err["msg"]))
        raise YamlFileError(problems) from exc
    found = [
        YamlProblem(filename, line_of(document, (*prefix, *loc)), dotted((*prefix, *loc)), msg)
        for loc, msg in reference_problems(spec)
    ]
    if found:
        raise YamlFileError(found)
    return spec


def _texts(spec: IvrSpec) -> Iterator[tuple[Loc, dict[str, Any]]]:
    yield ("greeting",), spec.greeting
    yield ("speaking_rate_wps",), spec.speaking_rate_wps
    for node_id, node in spec.nodes.items():
        base: Loc = ("nodes", node_id)
        for name in ("prompt", "intro", "message"):
            value = getattr(node, name, None)
            if isinstance(value, dict):
                yield (*base, name), value
        for i, option in enumerate(getattr(node, "options", [])):
            yield (*base, "options", i, "label"), option.label
            yield (*base, "options", i, "keywords"), option.keywords


def reference_problems(spec: IvrSpec) -> list[tuple[Loc, str]]:
    """Cross-references pydantic cannot see: node targets and declared languages."""
    out: list[tuple[Loc, str]] = []
    known = set(spec.nodes)
    langs = set(spec.languages)

    def target(loc: Loc, node_id: str | None) -> None:
        if node_id is not None and node_id not in known:
            out.append((loc, f"no node called {node_id!r} (nodes: {', '.join(sorted(known))})"))

    if spec.default_language is not None and spec.default_language not in langs:
        out.append((("default_language",), f"{spec.default_language!r} is not in languages"))
    target(("entry",), spec.entry)
    target(("agent",), spec.agent)
    if spec.caller_id is not None:
        target(("caller_id", "known_entry"), spec.caller_id.known_entry)
    for node_id, node in spec.nodes.items():
        base: Loc = ("nodes", node_id)
        if isinstance(node, MenuSpec):
            target((*base, "agent_goto"), node.agent_goto)
            target((*base, "no_input", "then"), node.no_input.then)
            for i, option in enumerate(node.options):
                target((*base, "options", i, "goto"), option.goto)
                if option.language is not None and option.language not in langs:
                    out.append(
                        ((*base, "options", i, "language"), f"{option.language!r} not in languages")
                    )
        elif isinstance(node, InfoSpec):
            target((*base, "then"), node.then)
        elif isinstance(node, HoursSpec):
            target((*base, "open"), node.open)
            target((*base, "closed"), node.closed)
    for loc, texts in _texts(spec):
        for lang in texts:
            if lang not in langs:
                langs_text = ", ".join(spec.languages)
                out.append(((*loc, lang), f"language {lang!r} is not one of {langs_text}"))
    return out


def parse_ivr_document(document: Any, filename: str) -> tuple[IvrSpec, Loc]:
    """Find the IVR in a document (an organisation file's ``ivr:`` key, or a whole IVR file)."""
    if isinstance(document, dict) and "ivr" in document:
        return validate_ivr(document, filename, ("ivr",)), ("ivr",)
    if isinstance(document, dict) and "nodes" in document:
        return validate_ivr(document, filename), ()
    raise YamlFileError(
        [
            YamlProblem(
                filename,
                line_of(document, ()),
                "",
                "no IVR here: expected an 'ivr:' key (organisation file) or 'nodes:' (IVR file)",
            )
        ]
    )


# --------------------------------------------------------------------------------------------
# Journey tasks ("call your own IVR")
# --------------------------------------------------------------------------------------------


class GoalSpec(_Spec):
    """Where the task ends: ``queue: billing`` or ``node: info_hours`` (exactly one)."""

    queue: Text | None = None
    node: NodeId | None = None

    @field_validator("node")
    @classmethod
    def _one(cls, value: str | None, info: Any) -> str | None:
        if value is not None and info.data.get("queue") is not None:
            raise ValueError("give either queue or node, not both")
        return value


class TaskSpec(_Spec):
    name: LangText | Text
    goal: GoalSpec
    languages: list[Lang] = []
    open: bool = True
    known_caller: bool = False
    max_keys: int | None = Field(default=None, ge=0)
    max_seconds: float | None = Field(default=None, gt=0)


class TasksSpec(_Spec):
    """A tasks file: thresholds and the common customer tasks to try."""

    max_keys: int = Field(default=3, ge=0)
    max_seconds: float = Field(default=60.0, gt=0)
    tasks: list[TaskSpec] = Field(min_length=1)


def task_problems(tasks: TasksSpec, model: rules.IvrModel) -> list[tuple[Loc, str]]:
    """Goals that name a node or queue the IVR does not have."""
    queues = {n.queue for n in model.nodes.values() if n.type in ("queue", "callback")}
    out: list[tuple[Loc, str]] = []
    for i, task in enumerate(tasks.tasks):
        goal = task.goal
        if goal.queue is None and goal.node is None:
            out.append((("tasks", i, "goal"), "give a queue or a node"))
        if goal.queue is not None and goal.queue not in queues:
            known = ", ".join(sorted(q for q in queues if q))
            out.append((("tasks", i, "goal", "queue"), f"no queue {goal.queue!r} ({known})"))
        if goal.node is not None and goal.node not in model.nodes:
            out.append((("tasks", i, "goal", "node"), f"no node called {goal.node!r}"))
        for j, lang in enumerate(task.languages):
            if lang not in model.languages:
                out.append((("tasks", i, "languages", j), f"{lang!r} is not a language of the IVR"))
    return out
