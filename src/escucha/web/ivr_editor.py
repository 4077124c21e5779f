"""The IVR editor screen (requirement C1): the menu tree, prompts editable in every language,
lint results live as you type, audio of each prompt, and a simulated call with a keypad.

The IVR is the organisation's ``ivr:`` mapping (:attr:`escucha.org.models.Organisation.ivr`).
Editing changes texts only; :mod:`escucha.ivr.editing` applies, validates and lints them.
The simulated call drives the real runtime (:func:`escucha.ivr.rules.advance`); its state
travels in a signed hidden field, so a call needs no server storage.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from escucha import languages
from escucha.auth.api import DB, ClockDep, SupervisorCaller
from escucha.errors import EscuchaError, InvalidInput, NotFound
from escucha.i18n import translator
from escucha.ivr import audio
from escucha.ivr.editing import (
    GREETING,
    Checked,
    FieldView,
    apply_edits,
    check_ivr,
    finding_node,
    fingerprint,
    menu_tree,
    problem_node,
    said_texts,
    text_fields,
)
from escucha.ivr.orgcheck import unknown_queues
from escucha.ivr.rules import (
    KEY_CHARS,
    CallInput,
    CallState,
    IvrModel,
    IvrRuntimeError,
    Keys,
    NoInput,
    Speech,
    Step,
    advance,
    is_open,
    speech_seconds,
    start,
)
from escucha.ivr.service import say
from escucha.ivr.stored import save_ivr, stored_ivr
from escucha.org import service as org_service
from escucha.web.i18n import pick_language
from escucha.web.render import render
from escucha.yamlio import dotted

router = APIRouter(include_in_schema=False)
log = logging.getLogger("escucha.ivr")

#: Each language by its own name, from the catalog (a code the catalog lacks shows as itself).
LANGUAGE_NAMES = {code: language.name for code, language in languages.CATALOG.items()}
KEYPAD = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#")
HOURS_CHOICES = ("now", "open", "closed")
_FORM_FIELDS = 5000

TYPES = ("menu", "queue", "info", "callback", "voicemail", "transfer", "hangup", "hours")


def words_for(lang: str) -> dict[str, str]:
    """Words of the page that come from the IVR model (type, branch, severity, kind of text)."""
    _ = translator(lang)
    return {
        "menu": _("menu"),
        "queue": _("queue"),
        "info": _("information"),
        "callback": _("callback"),
        "voicemail": _("voicemail"),
        "transfer": _("transfer"),
        "hangup": _("end of call"),
        "hours": _("business hours"),
        "open": _("open"),
        "closed": _("closed"),
        "then": _("then"),
        "no_input": _("no answer"),
        "error": _("error"),
        "warning": _("warning"),
        "greeting": _("Greeting"),
        "prompt": _("Menu prompt"),
        "intro": _("Introduction"),
        "label": _("Option label"),
        "message": _("Message"),
        "person": _("person"),
        "repeat": _("repeat"),
    }


def describe(model: IvrModel, node_id: str, lang: str) -> str:
    """One line saying where a node leads: ``1 → billing · 0 → people (person) · 9 repeat``."""
    w = words_for(lang)
    node = model.nodes[node_id]
    if node.type == "menu":
        parts = [f"{o.key} → {o.goto}" for o in node.options]
        if node.agent_key is not None and node.agent_goto is not None:
            parts.append(f"{node.agent_key} → {node.agent_goto} ({w['person']})")
        if node.repeat_key is not None:
            parts.append(f"{node.repeat_key} {w['repeat']}")
        if node.no_input_goto is not None:
            parts.append(f"{w['no_input']} → {node.no_input_goto}")
        return " · ".join(parts)
    if node.type == "hours":
        return f"{w['open']} → {node.open} · {w['closed']} → {node.closed}"
    if node.type == "info":
        return f"{w['then']} → {node.then}" if node.then else ""
    if node.type in ("queue", "callback", "voicemail") and node.queue:
        return f"{w[node.type]} {node.queue}"
    if node.type == "transfer":
        return translator(lang)("transfer to {number}", number=node.number)
    return ""


def espeak_available() -> bool:
    """Whether espeak-ng can render prompts on this machine."""
    return shutil.which(audio.ESPEAK) is not None


def audio_cache_dir(request: Request) -> Path:
    """Rendered prompts are cached next to the outbox: ``<outbox>/../ivr-audio``."""
    return Path(request.app.state.settings.outbox_dir).parent / "ivr-audio"


def _lang(request: Request) -> str:
    return pick_language(request)


async def _text_form(request: Request) -> dict[str, str]:
    form = await request.form(max_fields=_FORM_FIELDS)
    return {k: v for k, v in form.multi_items() if isinstance(v, str)}


def _error_page(request: Request, exc: EscuchaError) -> Response:
    """The error, answered inside the request while its database session is still open."""
    if "application/json" in request.headers.get("accept", ""):
        body = {"error": exc.code, "detail": exc.message}
        return JSONResponse(body, status_code=exc.status_code)
    ctx = {"status": exc.status_code, "code": exc.code, "detail": exc.message}
    return render(request, "error.html", ctx, status_code=exc.status_code)


def _guarded(request: Request, fn: Callable[..., Response], *args: Any) -> Response:
    try:
        return fn(*args)
    except EscuchaError as exc:
        return _error_page(request, exc)


# --------------------------------------------------------------------------------------------
# The editor
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mark:
    """A finding or structural problem as shown on the page."""

    severity: str
    rule: str
    node: str
    where: str
    message: str
    fix: str


def _marks(checked: Checked, lang: str) -> list[Mark]:
    out = [
        Mark(
            "error",
            "structure",
            problem_node(p),
            p.path,
            p.message.removeprefix("Value error, "),
            "",
        )
        for p in checked.problems
    ]
    out.extend(
        Mark(
            f.severity,
            f.rule,
            finding_node(f.path),
            dotted(f.path),
            say(f.message, lang),
            say(f.fix, lang),
        )
        for f in checked.findings
    )
    return out


def _audio_url(view: FieldView, saved_version: str) -> str:
    base = f"/ivr/audio/{view.field.node}/{view.field.language}.wav"
    if view.changed and view.said:
        return f"{base}?{urlencode({'text': view.said})}"
    return f"{base}?{urlencode({'v': saved_version})}"


def _node_order(model: IvrModel | None, ivr: Mapping[str, Any]) -> list[str]:
    """Nodes in tree order (depth first from the entry), then the unreachable ones."""
    nodes = ivr.get("nodes")
    listed = [str(n) for n in nodes] if isinstance(nodes, Mapping) else []
    if model is None:
        return listed
    roots, _ = menu_tree(model, model.default_language)
    order: list[str] = []

    def walk(items: Any) -> None:
        for item in items:
            if not item.seen and item.id not in order:
                order.append(item.id)
                walk(item.children)

    walk(roots)
    return order + [n for n in listed if n not in order]


def _lint_context(
    request: Request, saved: Mapping[str, Any], draft: Mapping[str, Any]
) -> dict[str, Any]:
    """Everything the findings, marks, durations and audio parts of the page need."""
    lang = _lang(request)
    checked = check_ivr(draft)
    saved_checked = check_ivr(saved) if draft is not saved else checked
    model = checked.model or saved_checked.model
    fields = text_fields(draft, model)
    saved_said = {
        v.field.path: v.said
        for v in said_texts(text_fields(saved, saved_checked.model), saved_checked.model, {})
    }
    views = said_texts(fields, checked.model, saved_said)
    marks = _marks(checked, lang)
    by_node: dict[str, list[Mark]] = {}
    for mark in marks:
        by_node.setdefault(mark.node, []).append(mark)
    w = words_for(lang)
    return {
        "checked": checked,
        "severity_names": {k: w[k] for k in ("error", "warning")},
        "kind_names": {k: w[k] for k in ("greeting", "prompt", "intro", "label", "message")},
        "type_names": {k: w[k] for k in TYPES},
        "via_names": {k: w[k] for k in ("open", "closed", "then", "no_input")},
        "language_names": LANGUAGE_NAMES,
        "options": _option_targets(model),
        "max_prompt_s": model.max_prompt_s if model is not None else 20.0,
        "greeting_id": GREETING,
        "marks": marks,
        "marks_by_node": by_node,
        "views": views,
        "audible": [v for v in views if v.field.audible],
        "espeak": espeak_available(),
        "saved_version": fingerprint(saved),
        "audio_url": _audio_url,
        "node_ids": [GREETING, *_node_order(model, draft)],
    }


def _editor_page(
    request: Request,
    db: Session,
    saved: Mapping[str, Any],
    draft: Mapping[str, Any],
    *,
    notice: str = "",
    save_error: str = "",
    status_code: int = 200,
) -> Response:
    lang = _lang(request)
    ctx = _lint_context(request, saved, draft) if saved else {}
    tree: list[Any] = []
    unreachable: list[str] = []
    types: dict[str, str] = {}
    queue_problems: list[tuple[str, str]] = []
    languages: list[str] = []
    if saved:
        checked = check_ivr(saved)
        if checked.model is not None:
            tree, unreachable = menu_tree(checked.model, lang)
            types = {n.id: n.type for n in checked.model.nodes.values()}
            known = [q.name for q in org_service.queues(db)]
            queue_problems = unknown_queues(checked.model, known)
            languages = list(checked.model.languages)
        views: list[FieldView] = ctx["views"]
        sections: dict[str, list[FieldView]] = {}
        for view in views:
            sections.setdefault(view.field.node, []).append(view)
        ctx["sections"] = sections
        ctx["describe"] = (
            {n: describe(checked.model, n, lang) for n in checked.model.nodes}
            if checked.model is not None
            else {}
        )
    ctx.update(
        {
            "ivr": saved,
            "tree": tree,
            "unreachable": unreachable,
            "types": types,
            "queue_problems": queue_problems,
            "languages": languages,
            "base": fingerprint(saved),
            "notice": notice,
            "save_error": save_error,
            "recorded_prompts": _recorded_prompts(request, saved),
        }
    )
    return render(request, "ivr/editor.html", ctx, status_code=status_code)


def _option_targets(model: IvrModel | None) -> dict[tuple[str, int], str]:
    """``(menu, option index) -> "key → target"`` to label each option's inputs."""
    if model is None:
        return {}
    return {
        (n.id, i): f"{o.key} → {o.goto}"
        for n in model.nodes.values()
        for i, o in enumerate(n.options)
    }


@router.get("/ivr")
def editor(
    request: Request, _caller: SupervisorCaller, db: DB, saved: str = "", recorded: str = ""
) -> Response:
    """The editor: menu tree, texts per language, lint findings, audio."""
    stored = stored_ivr(db)
    notice = "saved" if saved == "1" else "recorded" if recorded == "1" else ""
    return _editor_page(request, db, stored, stored, notice=notice)


def _lint(request: Request, db: Session, form: Mapping[str, str]) -> Response:
    stored = stored_ivr(db)
    if not stored:
        raise NotFound("the organisation has no IVR yet")
    draft = apply_edits(stored, form)
    ctx = _lint_context(request, stored, draft)
    return render(request, "ivr/_lint.html", ctx)


@router.post("/ivr/lint")
async def lint_draft(request: Request, _caller: SupervisorCaller, db: DB) -> Response:
    """Lint the edited texts without saving; answers the findings fragment (HTMX)."""
    form = await _text_form(request)
    return await run_in_threadpool(_guarded, request, _lint, request, db, form)


def _save(request: Request, db: Session, form: Mapping[str, str], username: str) -> Response:
    stored = stored_ivr(db)
    if not stored:
        raise NotFound("the organisation has no IVR yet: add 'ivr:' and run escucha config apply")
    if form.get("base") != fingerprint(stored):
        try:
            draft = apply_edits(stored, form)
        except InvalidInput:
            draft = stored
        return _editor_page(
            request,
            db,
            stored,
            draft,
            save_error="conflict",
            status_code=409,
        )
    draft = apply_edits(stored, form)
    checked = check_ivr(draft)
    if not checked.ok:
        return _editor_page(request, db, stored, draft, save_error="invalid", status_code=422)
    save_ivr(db, draft)
    log.info("ivr saved", extra={"user": username, "version": fingerprint(draft)})
    return RedirectResponse("/ivr?saved=1", status_code=303)


@router.post("/ivr/save")
async def save(request: Request, caller: SupervisorCaller, db: DB) -> Response:
    """Validate, lint and save the edited texts; errors keep the edit in the form."""
    form = await _text_form(request)
    username = caller.need_user().username
    return await run_in_threadpool(_guarded, request, _save, request, db, form, username)


@router.get("/ivr/audio/{node}/{lang}.wav")
def prompt_audio(
    request: Request,
    node: str,
    lang: str,
    _caller: SupervisorCaller,
    db: DB,
    text: str = "",
) -> Response:
    """A prompt rendered by espeak-ng (cached): the saved text, or ``text`` (a draft)."""
    return _guarded(request, _audio, request, db, node, lang, text)


def _audio(request: Request, db: Session, node: str, lang: str, text: str) -> Response:
    stored = stored_ivr(db)
    checked = check_ivr(stored) if stored else None
    model = checked.model if checked is not None else None
    if model is None:
        raise NotFound("the organisation has no valid IVR")
    if lang not in model.languages:
        raise NotFound(f"the IVR has no language {lang!r}")
    if node != GREETING and node not in model.nodes:
        raise NotFound(f"no node called {node!r}")
    said = text.strip()
    if not said:
        said = _saved_text(model, stored, node, lang)
    if not said:
        raise NotFound(f"{node!r} says nothing in {lang!r}")
    if len(said) > 2000:
        raise InvalidInput("the text is longer than 2000 characters")
    found = audio.recorded(said, lang, audio.recorded_dir(request.app.state.settings))
    if found is not None:  # what calls hear: the recording uploaded for this text
        return FileResponse(found, media_type="audio/wav")
    if not espeak_available():
        raise NotFound("espeak-ng is not installed on the server")
    rendered = audio.render_text(
        said, lang, rate_wps=model.rate_wps(lang), cache_dir=audio_cache_dir(request)
    )
    return FileResponse(rendered.path, media_type="audio/wav")


# --------------------------------------------------------------------------------------------
# Recorded prompts: a WAV per saved sentence, played by calls instead of the voice
# --------------------------------------------------------------------------------------------


def _saved_views(stored: Mapping[str, Any]) -> list[FieldView]:
    """The saved IVR's audible sentences (what a recording can be uploaded for)."""
    model = check_ivr(stored).model if stored else None
    if model is None:
        return []
    views = said_texts(text_fields(stored, model), model, {})
    return [v for v in views if v.field.audible and v.said.strip()]


def _recorded_prompts(request: Request, stored: Mapping[str, Any]) -> list[dict[str, Any]]:
    folder = audio.recorded_dir(request.app.state.settings)
    return [
        {
            "view": v,
            "recorded": audio.recorded(v.said, v.field.language, folder) is not None,
            "varies": not audio.recordable(v.said),
        }
        for v in _saved_views(stored)
    ]


def _saved_view(db: Session, name: str) -> FieldView:
    stored = stored_ivr(db)
    for view in _saved_views(stored):
        if view.field.name == name:
            return view
    raise NotFound(f"the saved IVR has no sentence {name!r}: save the IVR first")


@router.post("/ivr/recorded/{name}")
async def upload_recorded(
    request: Request, name: str, caller: SupervisorCaller, db: DB
) -> Response:
    """A WAV recording of one saved sentence: calls play it instead of the voice."""
    form = await request.form()
    try:
        upload = form.get("file")
        data = await upload.read() if isinstance(upload, UploadFile) else b""
    finally:
        await form.close()
    settings = request.app.state.settings
    username = caller.need_user().username

    def store() -> Response:
        view = _saved_view(db, name)
        if len(data) > settings.max_upload_bytes:
            raise InvalidInput(f"file: at most {settings.max_upload_bytes} bytes")
        kept = audio.store_recorded(
            data, view.said, view.field.language, audio.recorded_dir(settings)
        )
        log.info(
            "prompt recorded",
            extra={"user": username, "prompt": name, "seconds": round(kept.duration_s, 1)},
        )
        return RedirectResponse("/ivr?recorded=1#recorded", status_code=303)

    return await run_in_threadpool(_guarded, request, store)


@router.post("/ivr/recorded/{name}/forget")
def forget_recorded(request: Request, name: str, caller: SupervisorCaller, db: DB) -> Response:
    """The sentence is said by the voice again."""

    def forget() -> Response:
        view = _saved_view(db, name)
        folder = audio.recorded_dir(request.app.state.settings)
        if audio.forget_recorded(view.said, view.field.language, folder):
            log.info("prompt recording removed", extra={"user": caller.need_user().username})
        return RedirectResponse("/ivr#recorded", status_code=303)

    return _guarded(request, forget)


@router.get("/ivr/recorded/{name}.wav")
def recorded_audio(request: Request, name: str, _caller: SupervisorCaller, db: DB) -> Response:
    """The recording calls play for this sentence."""

    def serve() -> Response:
        view = _saved_view(db, name)
        folder = audio.recorded_dir(request.app.state.settings)
        found = audio.recorded(view.said, view.field.language, folder)
        if found is None:
            raise NotFound(f"{name!r} has no recording")
        return FileResponse(found, media_type="audio/wav")

    return _guarded(request, serve)


def _saved_text(model: IvrModel, stored: Mapping[str, Any], node: str, lang: str) -> str:
    for view in said_texts(text_fields(stored, model), model, {}):
        if view.field.node == node and view.field.language == lang and view.field.audible:
            return view.said
    return ""


# --------------------------------------------------------------------------------------------
# The simulated call
# --------------------------------------------------------------------------------------------

_SALT = "escucha.ivr.call"


def sign_state(secret: str, data: Mapping[str, Any]) -> str:
    """``data`` as a signed, URL-safe token (itsdangerous, keyed by the server's secret)."""
    return URLSafeSerializer(secret, salt=_SALT).dumps(dict(data))


def read_state(secret: str, token: str) -> dict[str, Any]:
    """The data of a token from :func:`sign_state`; ``InvalidInput`` when it was altered."""
    try:
        data = URLSafeSerializer(secret, salt=_SALT).loads(token)
    except BadSignature as exc:
        raise InvalidInput("the call state was altered; start the call again") from exc
    if not isinstance(data, dict):
        raise InvalidInput("the call state is unreadable; start the call again")
    return data


@dataclass(frozen=True)
class Line:
    """One utterance heard in the simulated call."""

    node: str
    kind: str
    text: str
    seconds: float
    turn: int


@dataclass(frozen=True)
class CallView:
    """The simulated call as the page shows it."""

    token: str
    status: str
    node: str
    language: str
    path: str
    inputs: tuple[str, ...]
    heard: tuple[Line, ...]
    seconds: float
    queue: str | None
    number: str | None
    hours: str
    known: bool
    is_open: bool

    @property
    def terminal(self) -> bool:
        return self.status not in ("menu", "hours")

    @property
    def latest(self) -> tuple[Line, ...]:
        """What the last input (or the start of the call) made the IVR say."""
        return tuple(h for h in self.heard if h.turn == len(self.inputs))

    @property
    def restart_url(self) -> str:
        query = {"lang": self.language, "hours": self.hours, "known": "1" if self.known else ""}
        return "/ivr/call?" + urlencode({k: v for k, v in query.items() if v})


def _secret(request: Request) -> str:
    return str(request.app.state.settings.secret_key)


def _lines(model: IvrModel, step: Step, turn: int) -> list[list[Any]]:
    return [
        [u.node, u.kind, u.text, round(speech_seconds(model, u.language, u.text)[0], 2), turn]
        for u in step.say
    ]


def _state(
    model: IvrModel,
    version: str,
    step: Step,
    *,
    heard: list[list[Any]],
    inputs: list[str],
    hours: str,
    known: bool,
    is_open_now: bool,
) -> dict[str, Any]:
    return {
        "b": version,
        "n": step.state.node,
        "l": step.state.language,
        "p": list(step.state.path),
        "r": step.state.retries,
        "s": step.status,
        "q": step.queue,
        "x": step.number,
        "h": heard,
        "i": inputs,
        "hours": hours,
        "known": known,
        "o": is_open_now,
    }


def _view(request: Request, data: Mapping[str, Any]) -> CallView:
    heard = tuple(
        Line(str(n), str(k), str(t), float(s), int(turn)) for n, k, t, s, turn in data["h"]
    )
    return CallView(
        token=sign_state(_secret(request), data),
        status=str(data["s"]),
        node=str(data["n"]),
        language=str(data["l"]),
        path=">".join(data["p"]),
        inputs=tuple(data["i"]),
        heard=heard,
        seconds=sum(h.seconds for h in heard),
        queue=data.get("q"),
        number=data.get("x"),
        hours=str(data.get("hours", "now")),
        known=bool(data.get("known")),
        is_open=bool(data.get("o", True)),
    )


def _begin(
    request: Request,
    model: IvrModel,
    version: str,
    *,
    lang: str,
    hours: str,
    known: bool,
    now: datetime,
) -> CallView:
    if hours == "open":
        open_now = True
    elif hours == "closed":
        open_now = False
    else:
        open_now = is_open(model.business_hours, now) if model.business_hours else True
    language = lang if lang in model.languages else model.default_language
    step = start(model, language=language, caller_known=known, is_open=open_now)
    data = _state(
        model,
        version,
        step,
        heard=_lines(model, step, 0),
        inputs=[],
        hours=hours,
        known=known,
        is_open_now=open_now,
    )
    return _view(request, data)


def _call_page(
    request: Request,
    db: Session,
    model: IvrModel | None,
    view: CallView | None,
    *,
    notice: str = "",
    fragment: bool = False,
    status_code: int = 200,
) -> Response:
    queue_names: dict[str, str] = {}
    lang = _lang(request)
    for q in org_service.queues(db):
        names = q.display_name or {}
        queue_names[q.name] = str(names.get(lang) or names.get("es") or q.name)
    ctx = {
        "model": model,
        "call": view,
        "keypad": KEYPAD,
        "hours_choices": HOURS_CHOICES,
        "language_names": LANGUAGE_NAMES,
        "queue_names": queue_names,
        "notice": notice,
    }
    name = "ivr/_call.html" if fragment else "ivr/call.html"
    return render(request, name, ctx, status_code=status_code)


def _saved_model(db: Session) -> tuple[IvrModel | None, str]:
    stored = stored_ivr(db)
    if not stored:
        return None, ""
    return check_ivr(stored).model, fingerprint(stored)


@router.get("/ivr/call")
def call_page(
    request: Request,
    _caller: SupervisorCaller,
    db: DB,
    clock: ClockDep,
    lang: str = "",
    hours: str = "now",
    known: str = "",
) -> Response:
    """Start a simulated call against the saved IVR."""
    model, version = _saved_model(db)
    if model is None:
        return _call_page(request, db, None, None)
    if hours not in HOURS_CHOICES:
        hours = "now"
    view = _begin(
        request,
        model,
        version,
        lang=lang,
        hours=hours,
        known=known == "1",
        now=clock.now(),
    )
    return _call_page(request, db, model, view)


def _input(key: str, say: str, action: str) -> CallInput:
    if action == "silence":
        return NoInput()
    if action == "say":
        if not say.strip():
            raise InvalidInput("write what the caller says")
        return Speech(say.strip()[:200])
    if len(key) == 1 and key in KEY_CHARS:
        return Keys(key)
    raise InvalidInput("press one key of the keypad")


def _input_label(event: CallInput) -> str:
    if isinstance(event, Keys):
        return event.digits
    if isinstance(event, Speech):
        return f"«{event.text}»"
    return "…"


@router.post("/ivr/call/step")
def call_step(
    request: Request,
    _caller: SupervisorCaller,
    db: DB,
    clock: ClockDep,
    state: Annotated[str, Form()],
    key: Annotated[str, Form()] = "",
    say: Annotated[str, Form()] = "",
    action: Annotated[str, Form()] = "",
) -> Response:
    """Feed one key (or words, or silence) to the simulated call and show what follows."""
    inputs = (state, key, say, action)
    return _guarded(request, _call_step, request, db, clock.now(), *inputs)


def _call_step(
    request: Request, db: Session, now: datetime, state: str, key: str, say: str, action: str
) -> Response:
    fragment = request.headers.get("hx-request") == "true"
    data = read_state(_secret(request), state)
    model, version = _saved_model(db)
    if model is None:
        return _call_page(request, db, None, None, fragment=fragment)
    hours = str(data.get("hours", "now"))
    known = bool(data.get("known"))
    if data.get("b") != version or str(data.get("n")) not in model.nodes:
        view = _begin(
            request, model, version, lang=str(data.get("l", "")), hours=hours, known=known, now=now
        )  # fmt: skip
        return _call_page(request, db, model, view, notice="changed", fragment=fragment)
    event = _input(key, say, action)
    step = Step(
        CallState(str(data["n"]), str(data["l"]), tuple(data["p"]), int(data["r"])),
        data["s"],
        queue=data.get("q"),
        number=data.get("x"),
    )
    open_now = bool(data.get("o", True))
    if step.terminal:
        return _call_page(
            request, db, model, _view(request, data), notice="ended", fragment=fragment
        )
    try:
        nxt = advance(model, step, event, is_open=open_now)
    except IvrRuntimeError as exc:
        raise InvalidInput(str(exc)) from exc
    turn = len(data["i"]) + 1
    new = _state(
        model,
        version,
        nxt,
        heard=[*data["h"], *_lines(model, nxt, turn)],
        inputs=[*data["i"], _input_label(event)],
        hours=hours,
        known=known,
        is_open_now=open_now,
    )
    return _call_page(request, db, model, _view(request, new), fragment=fragment)
