"""Prompts for phone lines: for an Asterisk PBX the IVR's sentences as 8 kHz WAV, which
Asterisk fetches over HTTP when escucha plays ``sound:<base url>/telephony/asterisk/audio/
<hash>.wav`` (ADR 22); for Twilio the prompts recorded in the IVR editor, which ``<Play>``
fetches (ADR 30). Only files escucha made are served, by the hash of what they hold."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response

from escucha.asterisk import service as pbx
from escucha.auth.api import Public
from escucha.config import Settings
from escucha.errors import NotFound
from escucha.ivr import audio
from escucha.telephony import rules as R

router = APIRouter(include_in_schema=False)

PROMPT_NAME = re.compile(r"^[0-9a-f]{32}\.wav$")


@router.get("/telephony/asterisk/audio/{name}")
def pbx_prompt(request: Request, name: str, _caller: Public) -> Response:
    """A rendered prompt, as Asterisk's ``wav`` format (8 kHz, 16-bit, mono)."""
    if not PROMPT_NAME.match(name):
        raise NotFound("no such prompt")
    path = pbx.prompts_dir(request.app.state.settings) / name
    if not path.is_file():
        raise NotFound("no such prompt")
    return FileResponse(path, media_type="audio/wav")


def recorded_url(settings: Settings) -> Callable[[R.Say], str | None]:
    """The public URL of a sentence's recording, for a line that plays it (Twilio's
    ``<Play>``); ``None`` when the voice says it."""
    folder = audio.recorded_dir(settings)

    def url(say: R.Say) -> str | None:
        found = audio.recorded(say.text, say.language, folder)
        return f"{settings.public_url}/telephony/recorded/{found.name}" if found else None

    return url


@router.get("/telephony/recorded/{name}")
def recorded_prompt(request: Request, name: str, _caller: Public) -> Response:
    """A prompt recorded in the IVR editor, as uploaded (mono 16-bit WAV)."""
    if not PROMPT_NAME.match(name):
        raise NotFound("no such prompt")
    path = audio.recorded_dir(request.app.state.settings) / name
    if not path.is_file():
        raise NotFound("no such prompt")
    return FileResponse(path, media_type="audio/wav")
