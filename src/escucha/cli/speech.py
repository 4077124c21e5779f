"""``escucha transcribe CALL.wav [--lang en|es] [--agent-channel 0|1] [--json]``: a recorded
call as turns (speaker, start, end, text), with long numbers masked."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from escucha.errors import EscuchaError


class Lang(StrEnum):
    es = "es"
    en = "en"


def transcribe(
    recording: Annotated[
        Path, typer.Argument(help="WAV file: 2 channels (agent, customer) or mono.")
    ],
    lang: Annotated[Lang | None, typer.Option("--lang", help="Language spoken.")] = None,
    agent_channel: Annotated[
        int, typer.Option("--agent-channel", help="Channel of the agent (0 or 1).")
    ] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON to stdout.")] = False,
) -> None:
    """Transcribe a recorded call / Transcribir una llamada grabada."""
    # Imported when the command runs, so the CLI starts fast.
    from escucha.config import load_settings
    from escucha.speech import service

    try:
        result, _, events = service.transcribe_file(
            recording,
            load_settings(),
            lang=None if lang is None else lang.value,
            agent_channel=agent_channel,
        )
    except EscuchaError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from exc
    if as_json:
        typer.echo(json.dumps(result.transcript_json(), ensure_ascii=False, indent=2))
        return
    for turn in result.turns:
        typer.echo(f"[{turn.start_s:7.2f}-{turn.end_s:7.2f}] {turn.speaker}: {turn.text}")
    for event in events:
        typer.echo(f"# {event.detector} {event.start_s:.2f}-{event.end_s:.2f}")
    for warning in result.warnings:
        typer.echo(f"# warning: {warning}", err=True)


def register(app: typer.Typer) -> None:
    app.command("transcribe")(transcribe)
