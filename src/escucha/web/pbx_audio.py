"""Prompts for an Asterisk PBX: the IVR's sentences rendered as 8 kHz WAV, which Asterisk
fetches over HTTP when escucha plays ``sound:<base url>/telephony/asterisk/audio/<hash>.wav``
(ADR 22). Only prompts escucha rendered are served, by the hash of their text and voice."""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response

from escucha.asterisk import service as pbx
from escucha.auth.api import Public
from escucha.errors import NotFound

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
