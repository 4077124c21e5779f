"""Recorded calls on the QA screens and Twilio's recording callback (C5).

* ``POST /qa/contacts/{id}/recording``: a supervisor uploads a recording of a contact (WAV:
  two channels, agent first, or mono); it is transcribed by a job and scored by automatic QA.
* ``GET /qa/contacts/{id}/recordings/{rid}/audio``: the recording, for the review's player;
  every listen is written to the audit trail.
* ``POST /telephony/twilio/recording``: Twilio's recording status callback (signed like every
  Twilio webhook, ADR 7); a completed recording is fetched and transcribed by jobs.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from escucha import languages
from escucha.admission import CallRoute
from escucha.audit import service as audit
from escucha.auth.api import DB, ClockDep, SupervisorCaller, Webhook
from escucha.auth.models import User
from escucha.errors import InvalidInput, NotFound
from escucha.speech import containers
from escucha.speech import service as speech
from escucha.speech.models import SpeechTranscript
from escucha.telephony import calls as telephony
from escucha.telephony.twilio import TwilioParams

router = APIRouter(include_in_schema=False)


@router.post("/qa/contacts/{contact_id}/recording")
async def upload_recording(
    request: Request, contact_id: int, caller: SupervisorCaller, db: DB, clock: ClockDep
) -> Response:
    settings = request.app.state.settings
    limit = int(settings.max_upload_bytes)
    form = await request.form()
    try:
        upload = form.get("recording")
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise InvalidInput("recording: choose a WAV file to upload")
        name = upload.filename.replace("\\", "/").rsplit("/", 1)[-1][:120] or "recording.wav"
        data = await upload.read(limit + 1)
    finally:
        await form.close()
    if len(data) > limit:
        raise InvalidInput(f"{name}: larger than {limit} bytes (ESCUCHA_MAX_UPLOAD_BYTES)")
    language = str(form.get("language") or "en")
    channel_text = str(form.get("agent_channel") or "0")
    if channel_text not in ("0", "1"):
        raise InvalidInput("agent_channel: 0 or 1")

    def run() -> Response:
        try:
            path, digest = speech.keep_recording(settings, data, name=name)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from exc
        speech.request_transcription(
            db,
            contact_id=contact_id,
            uri=path,
            sha256=digest,
            language=language,
            now=clock.now(),
            source="upload",
            agent_channel=int(channel_text),
        )
        return RedirectResponse(f"/qa/contacts/{contact_id}#recordings", status_code=303)

    return await run_in_threadpool(run)


def record_transcripts_read(
    db: Session, user: User, contact_id: int, recordings: list[SpeechTranscript], now: datetime
) -> None:
    """A page showing the transcripts of a contact's recordings writes who read them to the
    audit trail, as a listen does (nothing when the contact has none)."""
    shown = [r.id for r in recordings if r.turns]
    if shown:
        audit.record(
            db,
            action="transcript.read",
            actor=f"user:{user.id}:{user.username}",
            subject_kind="contact",
            subject_id=contact_id,
            now=now,
            data={"recordings": shown},
        )


@router.get("/qa/contacts/{contact_id}/recordings/{recording_id}/audio")
def recording_audio(
    contact_id: int, recording_id: int, caller: SupervisorCaller, db: DB, clock: ClockDep
) -> Response:
    user = caller.need_user()
    row = speech.transcript_of(db, contact_id, recording_id)
    path = speech.recording_path(row)
    if not path.is_file():
        raise NotFound(f"recording {recording_id}: the file is no longer kept")
    audit.record(
        db,
        action="recording.listened",
        actor=f"user:{user.id}:{user.username}",
        subject_kind="contact",
        subject_id=contact_id,
        now=clock.now(),
        data={"recording": row.id, "source": row.source, "bytes": path.stat().st_size},
    )
    with path.open("rb") as handle:
        kind = containers.media_type(handle.read(4))
    return FileResponse(path, media_type=kind, headers={"Cache-Control": "private"})


def twilio_recording(
    request: Request, _caller: Webhook, params: TwilioParams, db: DB, clock: ClockDep
) -> Response:
    """Twilio's recording status callback: ``RecordingStatus=completed`` with
    ``RecordingUrl`` and ``CallSid``; other statuses are acknowledged and ignored."""
    empty = Response(
        '<?xml version="1.0" encoding="UTF-8"?><Response />', media_type="application/xml"
    )
    if params.get("RecordingStatus", "completed") != "completed":
        return empty
    call_sid = params.get("CallSid", "").strip()
    url = params.get("RecordingUrl", "").strip()
    if not call_sid or not url:
        raise InvalidInput("CallSid and RecordingUrl: required")
    contact = telephony.find_call(db, "twilio", call_sid)
    if contact is None:
        raise NotFound(f"no call twilio:{call_sid}")
    channels = params.get("RecordingChannels", "2")
    settings = request.app.state.settings
    speech.request_fetch(
        db,
        contact_id=contact.id,
        url=url,
        language=languages.resolve(contact.language),
        now=clock.now(),
        agent_channel=settings.speech_twilio_agent_channel if channels == "2" else 0,
    )
    return empty


# A webhook of the calls lane (ADR 26), among routes that are not.
router.add_api_route(
    "/telephony/twilio/recording",
    twilio_recording,
    methods=["POST"],
    route_class_override=CallRoute,
)
