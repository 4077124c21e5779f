"""Speech jobs: transcribe a recording, fetch a provider's recording first, and forget
transcripts past their retention."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy.orm import Session

from escucha.jobs import service as jobs
from escucha.jobs.registry import JobContext, job, periodic
from escucha.speech import service
from escucha.speech.models import SpeechTranscript

TWILIO_HOSTS = ("api.twilio.com",)


@job("speech.transcribe", max_attempts=4, backoff_base_s=60)
def transcribe(session: Session, payload: dict[str, Any], ctx: JobContext) -> None:
    row = session.get(SpeechTranscript, int(payload["transcript_id"]))
    if row is None or row.recording_sha256 != payload.get("sha256") or row.status == "done":
        return  # forgotten, replaced by a newer recording, or done already
    service.transcribe_row(session, row, ctx.settings, ctx.now)


def _allowed(url: str, api_url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if api_url and url.startswith(api_url.rstrip("/") + "/"):
        return True
    return url.startswith("https://") and host in TWILIO_HOSTS


@job("speech.fetch", max_attempts=6, backoff_base_s=30)
def fetch(session: Session, payload: dict[str, Any], ctx: JobContext) -> None:
    """Download a Twilio recording (as WAV, with the account's credentials), keep it, and
    ask for its transcription. Only Twilio's API host (or ``ESCUCHA_TWILIO_API_URL``) is
    fetched from."""
    row = session.get(SpeechTranscript, int(payload["transcript_id"]))
    if row is None or row.status != "fetching":
        return
    settings = ctx.settings
    url = row.recording_uri
    if not _allowed(url, settings.twilio_api_url):
        row.status = "failed"
        row.error = f"{url}: recordings are fetched only from Twilio's API"
        return
    media = url if url.rsplit("/", 1)[-1].count(".") else f"{url}.wav"
    auth = (settings.twilio_account_sid, settings.twilio_auth_token)
    response = httpx.get(media, auth=auth, timeout=60, follow_redirects=True)
    if response.status_code == 404 and ctx.attempt < 3:
        raise RuntimeError(f"{media}: not available yet (404)")
    if response.status_code != 200:
        row.status = "failed"
        row.error = f"{media}: HTTP {response.status_code}"
        if response.status_code >= 500:
            raise RuntimeError(row.error)
        return
    try:
        path, digest = service.keep_recording(settings, response.content, name=media)
    except ValueError as exc:
        row.status = "failed"
        row.error = str(exc)[:2000]
        return
    row.recording_sha256 = digest
    row.audio = {**(row.audio or {}), "local_path": path}
    row.status = "queued"
    session.flush()
    jobs.enqueue(
        session,
        "speech.transcribe",
        {"transcript_id": row.id, "sha256": digest},
        now=ctx.now,
        idempotency_key=f"speech.transcribe:{row.id}:{digest}",
    )


@periodic("speech.prune", every_s=6 * 3600)
def prune(session: Session, payload: dict[str, Any], ctx: JobContext) -> None:
    service.prune(session, ctx.settings, now=ctx.now)
