"""``escucha ivr``: lint an IVR, test common tasks against it, render and call it (C1)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from escucha.cli.common import pct, words
from escucha.errors import EscuchaError

if TYPE_CHECKING:
    from escucha.ivr.rules import CallInput, Step

ivr_app = typer.Typer(
    name="ivr",
    help="IVR menus: lint, journey tests ('call your own IVR'), audio and a text call.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add the ``ivr`` command group to the root ``escucha`` command."""
    app.add_typer(ivr_app, name="ivr")


FileArg = Annotated[Path, typer.Argument(help="IVR YAML, or organisation YAML with an 'ivr:' key.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="JSON on stdout, nothing else.")]
LangOpt = Annotated[str, typer.Option("--lang", help="Language of the report: es or en.")]
AudioOpt = Annotated[
    bool,
    typer.Option("--audio", help="Measure prompt lengths from espeak-ng audio (cached)."),
]
CacheOpt = Annotated[
    Path | None,
    typer.Option("--cache-dir", help="Audio cache (default: ~/.cache/escucha/ivr-audio)."),
]


def _fail(exc: EscuchaError, code: int = 2) -> typer.Exit:
    typer.echo(str(exc), err=True)
    return typer.Exit(code)


def _emit_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))


@ivr_app.command("lint")
def lint_command(
    file: FileArg,
    as_json: JsonOpt = False,
    audio: AudioOpt = False,
    cache_dir: CacheOpt = None,
    lang: LangOpt = "es",
) -> None:
    """Check an IVR against the clarity rules; exit 1 when any rule finds an error."""
    # Imported when the command runs, so the CLI starts fast.
    from escucha.config import load_settings
    from escucha.ivr import service
    from escucha.yamlio import YamlFileError, dotted

    try:
        recording = load_settings().record_calls
        report = service.lint_file(
            file, measure_audio=audio, cache_dir=cache_dir, recording=recording
        )
    except YamlFileError as exc:
        raise _fail(exc) from exc
    except EscuchaError as exc:
        raise _fail(exc, 1) from exc
    if as_json:
        _emit_json(report.as_json(lang))
    else:
        _ = words(lang)
        for f in report.findings:
            where = f"{f.file}:{f.line}" if f.line is not None else str(f.file)
            said = service.say(f.message, lang)
            typer.echo(f"{where}: {f.severity} [{f.rule}] {dotted(f.path)}: {said}")
            typer.echo(f"    {_('fix')}: {service.say(f.fix, lang)}")
        counts = _(
            "{errors} errors, {warnings} warnings",
            errors=report.errors,
            warnings=report.warnings,
        )
        typer.echo(f"{report.file}: {counts}")
    if not report.ok:
        raise typer.Exit(1)


@ivr_app.command("rules")
def rules_command(as_json: JsonOpt = False, lang: LangOpt = "es") -> None:
    """List every lint rule: id, severity, explanation and fix."""
    # Imported when the command runs, so the CLI starts fast.
    from escucha.ivr.lint import RULES

    _ = words(lang)
    if as_json:
        _emit_json(
            [
                {
                    "rule": r.id,
                    "severity": r.severity,
                    "title": _(r.title),
                    "explanation": _(r.explanation),
                    "fix": _(r.fix),
                }
                for r in RULES.values()
            ]
        )
        return
    for r in RULES.values():
        typer.echo(f"{r.id} ({r.severity}): {_(r.title)}")
        typer.echo(f"    {_(r.explanation)}")
        typer.echo(f"    {_('fix')}: {_(r.fix)}")


@ivr_app.command("test")
def journey_command(
    file: FileArg,
    tasks: Annotated[Path, typer.Option("--tasks", help="Tasks YAML (goal per task).")],
    calls: Annotated[
        Path | None,
        typer.Option(
            "--calls", help="Call log: escucha event log CSV, or CSV call_id,path,outcome."
        ),
    ] = None,
    as_json: JsonOpt = False,
    audio: AudioOpt = False,
    cache_dir: CacheOpt = None,
) -> None:
    """Find the shortest path of each task; exit 1 when a task is above its thresholds."""
    # Imported when the command runs, so the CLI starts fast.
    from escucha.ivr import service
    from escucha.yamlio import YamlFileError

    try:
        report = service.journey_test_file(
            file, tasks, calls_path=calls, measure_audio=audio, cache_dir=cache_dir
        )
    except YamlFileError as exc:
        raise _fail(exc) from exc
    except EscuchaError as exc:
        raise _fail(exc, 1) from exc
    if as_json:
        _emit_json(report.as_json())
    else:
        for j in report.journeys:
            mark = "OK  " if j.passed else "FAIL"
            typer.echo(f"{mark} {j.task.title(j.language)} ({j.language}) -> {j.task.goal}")
            if j.found:
                typer.echo(
                    f"     keys {','.join(j.keys) or '-'} ({len(j.keys)}/{j.max_keys}), "
                    f"{j.seconds:.1f}/{j.max_seconds:g} s, path {j.path}"
                )
                for h in j.heard:
                    typer.echo(f"       [{h.node}] {h.seconds:4.1f} s  {h.text}")
            for problem in j.problems:
                typer.echo(f"     ! {problem}")
        if report.calls is not None:
            c = report.calls
            typer.echo(
                f"calls: {c.calls}; zero-out to a person {pct(c.zero_out_share, 1, 'en')}; "
                f"hung up in the IVR {pct(c.hung_up_share, 1, 'en')}"
            )
            for p in c.paths:
                typer.echo(f"  {pct(p.share, 1, 'en'):>6} {p.calls:>7} {p.path or '(no choice)'}")
    if not report.ok:
        raise typer.Exit(1)


@ivr_app.command("render")
def render_command(
    file: FileArg,
    out: Annotated[Path, typer.Option("--out", help="Folder for the WAV files and index.html.")],
    as_json: JsonOpt = False,
    cache_dir: CacheOpt = None,
) -> None:
    """Render every prompt to WAV with espeak-ng and print its measured length."""
    # Imported when the command runs, so the CLI starts fast.
    from escucha.ivr import service
    from escucha.ivr.audio import export, render_ivr
    from escucha.yamlio import YamlFileError

    try:
        ivr = service.read_ivr(file)
        rendered = render_ivr(ivr.model, cache_dir=cache_dir or service.default_cache_dir())
    except YamlFileError as exc:
        raise _fail(exc) from exc
    except EscuchaError as exc:
        raise _fail(exc, 1) from exc
    index = export(rendered, out, title=file.name)
    rows = [
        {
            "node": r.node,
            "kind": r.kind,
            "language": r.audio.language,
            "seconds": round(r.audio.duration_s, 2),
            "file": str(out / f"{r.node}.{r.kind}.{r.audio.language}.wav"),
            "text": r.audio.text,
        }
        for r in rendered
    ]
    if as_json:
        _emit_json({"index": str(index), "prompts": rows})
        return
    for row in rows:
        typer.echo(f"{row['seconds']:6.1f} s  {row['language']}  {row['node']} ({row['kind']})")
    typer.echo(f"{len(rows)} prompts in {out}; open {index} to listen")


def _parse_input(item: str) -> CallInput:
    # Imported when the command runs, so the CLI starts fast.
    from escucha.ivr.rules import Keys, NoInput, Speech, is_key

    item = item.strip()
    if item in ("", "-", "timeout"):
        return NoInput()
    if is_key(item):
        return Keys(item)
    return Speech(item)


def _show(step: Step) -> None:
    for u in step.say:
        typer.echo(f"[{u.node}] {u.text}")


def _outcome(step: Step) -> str:
    detail = step.queue or step.number or ""
    return f"{step.status} {detail}".strip()


@ivr_app.command("call")
def call_command(
    file: FileArg,
    keys: Annotated[
        str | None,
        typer.Option(
            "--keys",
            help="Inputs separated by commas: keys (1, 0, *), words to say, or - for silence. "
            "Without it, inputs are read one per line.",
        ),
    ] = None,
    language: Annotated[str | None, typer.Option("--language", help="Caller's language.")] = None,
    closed: Annotated[bool, typer.Option("--closed", help="Call outside business hours.")] = False,
    known: Annotated[bool, typer.Option("--known", help="The caller's number is known.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Walk through the IVR as a caller would, printing every prompt heard."""
    # Imported when the command runs, so the CLI starts fast.
    from escucha.ivr import service
    from escucha.ivr.rules import advance, start
    from escucha.yamlio import YamlFileError

    try:
        model = service.load_ivr(file)
    except YamlFileError as exc:
        raise _fail(exc) from exc
    if language is not None and language not in model.languages:
        typer.echo(f"--language must be one of {', '.join(model.languages)}", err=True)
        raise typer.Exit(2)
    is_open = not closed
    step = start(model, language=language, caller_known=known, is_open=is_open)
    heard = list(step.say)
    if not as_json:
        _show(step)
    scripted = keys.split(",") if keys is not None else None
    while not step.terminal:
        if scripted is not None:
            if not scripted:
                break
            item = scripted.pop(0)
        else:
            try:
                item = input()
            except EOFError:
                break
        if not as_json:
            typer.echo(f"> {item.strip() or '(silencio)'}")
        step = advance(model, step, _parse_input(item), is_open=is_open)
        heard.extend(step.say)
        if not as_json:
            _show(step)
    if as_json:
        _emit_json(
            {
                "status": step.status,
                "queue": step.queue,
                "number": step.number,
                "path": step.path_text,
                "heard": [{"node": u.node, "kind": u.kind, "text": u.text} for u in heard],
            }
        )
    else:
        typer.echo(f"= {_outcome(step) if step.terminal else 'waiting in ' + step.state.node}")
        typer.echo(f"  path {step.path_text}")
