"""Recordings to transcripts on the database: keep a recording, ask for its transcription,
transcribe it (in a job), give automatic QA the result, and forget it after the retention.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from escucha import languages
from escucha.config import Settings
from escucha.contacts.models import Contact
from escucha.errors import ConfigurationError, InvalidInput, NotFound
from escucha.jobs import service as jobs
from escucha.qa import reviews, rules
from escucha.qa.models import Transcript as QaTranscript
from escucha.speech import audio as A
from escucha.speech import transcribe as T
from escucha.speech.engines import engine_for
from escucha.speech.models import SpeechTranscript

SOURCES = ("upload", "twilio", "voice", "cli")
#: Sources whose recordings of one contact are the legs of its call (a recording per agent it
#: reached): automatic QA reads them joined, in order. An upload stands alone and replaces.
LEG_SOURCES = ("twilio", "voice")
QA_SOURCE = "speech"
#: A recording shorter than this holds no conversation to transcribe: it is skipped, saying so.
MIN_AUDIO_S = 1.0


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def keep_recording(settings: Settings, data: bytes, *, name: str = "<upload>") -> tuple[str, str]:
    """Check that ``data`` is audio we can read, write it to ``ESCUCHA_SPEECH_DIR`` under its
    SHA-256, and return ``(path, sha256)``. Nothing is written for a file we cannot read."""
    A.read_audio(data, name=name)
    digest = sha256_of(data)
    folder = settings.speech_dir
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{digest}.wav"
    if not target.exists():
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".part")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, target)
    return str(target), digest


def _options(settings: Settings, agent_channel: int) -> T.Options:
    return T.Options(
        agent_channel=agent_channel,
        mask_numbers=settings.speech_mask_numbers,
        silence_s=settings.speech_silence_s,
        monologue_s=settings.speech_monologue_s,
        overlap_s=settings.speech_overlap_s,
    )


def _validate(language: str, agent_channel: int, source: str) -> None:
    if language not in rules.LANGS:
        raise InvalidInput(f"language: one of {', '.join(rules.LANGS)}")
    if agent_channel not in (0, 1):
        raise InvalidInput("agent_channel: 0 or 1")
    if source not in SOURCES:
        raise InvalidInput(f"source: one of {', '.join(SOURCES)}")


def _row(session: Session, contact_id: int, uri: str, now: datetime) -> SpeechTranscript:
    if session.get(Contact, contact_id) is None:
        raise NotFound(f"contact {contact_id} not found")
    row = session.scalar(
        select(SpeechTranscript).where(
            SpeechTranscript.contact_id == contact_id, SpeechTranscript.recording_uri == uri
        )
    )
    if row is None:
        row = SpeechTranscript(contact_id=contact_id, recording_uri=uri, created_at=now)
        session.add(row)
    return row


def request_transcription(
    session: Session,
    *,
    contact_id: int,
    uri: str,
    sha256: str,
    language: str,
    now: datetime,
    source: str = "voice",
    agent_channel: int = 0,
) -> SpeechTranscript:
    """Ask for the transcription of the recording at ``uri`` (a path on this server) of
    ``contact_id``; the ``speech.transcribe`` job does it. Asking again for the same
    recording and content changes nothing."""
    _validate(language, agent_channel, source)
    if len(uri) > 500 or not uri:
        raise InvalidInput("recording: a path of 1 to 500 characters")
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise InvalidInput("sha256: 64 lower-case hex digits")
    row = _row(session, contact_id, uri, now)
    if row.recording_sha256 == sha256 and row.status in ("queued", "done", "skipped"):
        return row
    row.recording_sha256 = sha256
    row.language = language
    row.source = source
    row.agent_channel = agent_channel
    row.status = "queued"
    row.error = None
    session.flush()
    jobs.enqueue(
        session,
        "speech.transcribe",
        {"transcript_id": row.id, "sha256": sha256},
        now=now,
        idempotency_key=f"speech.transcribe:{row.id}:{sha256}",
    )
    return row


def request_fetch(
    session: Session,
    *,
    contact_id: int,
    url: str,
    language: str,
    now: datetime,
    agent_channel: int = 1,
) -> SpeechTranscript:
    """Ask for a provider's recording to be downloaded (``speech.fetch``) and transcribed."""
    _validate(language, agent_channel, "twilio")
    if not url.startswith("https://") and not url.startswith("http://"):
        raise InvalidInput("RecordingUrl: an http(s) URL")
    row = _row(session, contact_id, url[:500], now)
    if row.status in ("fetching", "queued", "done") and row.id is not None:
        return row
    row.source = "twilio"
    row.language = language
    row.agent_channel = agent_channel
    row.status = "fetching"
    row.error = None
    session.flush()
    jobs.enqueue(
        session,
        "speech.fetch",
        {"transcript_id": row.id},
        now=now,
        idempotency_key=f"speech.fetch:{row.id}",
    )
    return row


def recording_path(row: SpeechTranscript) -> Path:
    """Where the recording is on this server (a fetched one: where it was kept)."""
    local = (row.audio or {}).get("local_path")
    if isinstance(local, str) and local:
        return Path(local)
    uri = row.recording_uri
    return Path(uri[5:] if uri.startswith("file:") else uri)


def qa_text(recording: T.Recording) -> str:
    """The transcript as the JSON automatic QA reads (holds included)."""
    turns: list[dict[str, Any]] = []
    for t in T.qa_turns(recording):
        item: dict[str, Any] = {"speaker": t.speaker, "start": t.start_s, "end": t.end_s}
        if t.speaker != "hold":
            item["text"] = t.text
        turns.append(item)
    return json.dumps({"lang": recording.lang, "turns": turns}, ensure_ascii=False)


def audio_summary(recording: T.Recording, events: list[T.AudioEvent]) -> dict[str, Any]:
    return {
        "rate": recording.rate,
        "subtype": recording.subtype,
        "clipped_share": round(recording.clipped_share, 5),
        "level_dbfs": None
        if recording.level_dbfs == float("-inf")
        else round(recording.level_dbfs, 1),
        "speakers_guessed": recording.speakers_guessed,
        "warnings": list(recording.warnings),
        "events": [
            {
                "detector": e.detector,
                "criterion": T.AUDIO_DETECTORS[e.detector],
                "start_s": e.start_s,
                "end_s": e.end_s,
                "turn": e.turn,
                **({} if e.announced is None else {"announced": e.announced}),
            }
            for e in events
        ],
    }


def transcribe_row(
    session: Session, row: SpeechTranscript, settings: Settings, now: datetime
) -> None:
    """Transcribe a queued recording and give its transcript to automatic QA.

    A recording that is gone, changed or unreadable, or a language without an engine, marks
    the row failed with the reason (no retry helps); a speech server that fails raises, so
    the job is tried again later.
    """
    path = recording_path(row)
    try:
        data = path.read_bytes()
    except OSError as exc:
        _fail(row, f"{path}: cannot read the recording: {exc.strerror or exc}")
        return
    if row.recording_sha256 and sha256_of(data) != row.recording_sha256:
        _fail(row, f"{path}: the recording changed since it was submitted (SHA-256 differs)")
        return
    try:
        decoded = A.read_audio(data, name=str(path))
        engine = engine_for(settings, row.language)
    except (A.AudioFormatError, ConfigurationError) as exc:
        _fail(row, str(exc))
        return
    if decoded.duration_s < MIN_AUDIO_S:
        _fail(row, f"{decoded.duration_s:.1f} s of audio: too little to transcribe", "skipped")
        return
    recording = T.transcribe_audio(
        decoded,
        engine,
        language_for(settings, row.language),
        _options(settings, row.agent_channel),
    )
    findings, events = T.audio_findings(recording, _options(settings, row.agent_channel))
    row.engine = recording.engine
    row.channels = recording.channels
    row.duration_s = recording.duration_s
    row.turns = recording.transcript_json()
    kept = (row.audio or {}).get("local_path")
    row.audio = {**audio_summary(recording, events), **({"local_path": kept} if kept else {})}
    row.masked = recording.masked
    row.status = "done"
    row.error = None
    row.transcribed_at = now
    whole = whole_call(session, row, recording)
    if whole is not recording:
        findings, _events = T.audio_findings(whole, _options(settings, row.agent_channel))
    if whole.turns:
        reviews.store_transcript(
            session,
            row.contact_id,
            qa_text(whole),
            now=now,
            fmt="json",
            language=row.language,
            source=QA_SOURCE,
            extra_findings=findings,
        )
    session.flush()


def whole_call(session: Session, row: SpeechTranscript, recording: T.Recording) -> T.Recording:
    """What automatic QA reads of the call ``row`` (just transcribed as ``recording``) is part
    of: with the other legs of its call transcribed so far, in the order they were recorded."""
    if row.source not in LEG_SOURCES:
        return recording
    rows = session.scalars(
        select(SpeechTranscript)
        .where(
            SpeechTranscript.contact_id == row.contact_id,
            SpeechTranscript.source == row.source,
            or_(SpeechTranscript.status == "done", SpeechTranscript.id == row.id),
        )
        .order_by(SpeechTranscript.created_at, SpeechTranscript.id)
    ).all()
    return T.joined(
        [
            recording
            if r.id == row.id
            else T.stored(
                recording.lang,
                engine=r.engine or "",
                channels=r.channels or 1,
                duration_s=r.duration_s or 0.0,
                turns=r.turns,
                events=(r.audio or {}).get("events", []),
                masked=r.masked,
            )
            for r in rows
        ]
    )


def _fail(row: SpeechTranscript, message: str, status: str = "failed") -> None:
    row.status = status
    row.error = message[:2000]


def transcripts_of(session: Session, contact_id: int) -> list[SpeechTranscript]:
    return list(
        session.scalars(
            select(SpeechTranscript)
            .where(SpeechTranscript.contact_id == contact_id)
            .order_by(SpeechTranscript.id.desc())
        )
    )


def transcript_of(session: Session, contact_id: int, recording_id: int) -> SpeechTranscript:
    """One recording of the contact with its transcript (a recording of another contact is
    not found)."""
    row = session.get(SpeechTranscript, recording_id)
    if row is None or row.contact_id != contact_id:
        raise NotFound(f"recording {recording_id} of contact {contact_id} not found")
    return row


def prune(session: Session, settings: Settings, *, now: datetime) -> int:
    """Forget transcripts older than ``ESCUCHA_SPEECH_RETENTION_DAYS`` or whose recording was
    deleted (they follow the recording's retention): the row, the contact's QA transcript made
    from it, and a recording file kept by escucha itself. How many rows went."""
    cutoff = now - timedelta(days=settings.speech_retention_days)
    gone: list[SpeechTranscript] = []
    for row in session.scalars(select(SpeechTranscript).order_by(SpeechTranscript.id)):
        missing = row.status == "done" and not recording_path(row).exists()
        if row.created_at < cutoff or missing:
            gone.append(row)
    own = settings.speech_dir.resolve()
    for row in gone:
        session.execute(
            delete(QaTranscript).where(
                QaTranscript.contact_id == row.contact_id, QaTranscript.source == QA_SOURCE
            )
        )
        path = recording_path(row)
        if path.exists() and path.resolve().parent == own:
            still_used = session.scalar(
                select(SpeechTranscript.id).where(
                    SpeechTranscript.recording_sha256 == row.recording_sha256,
                    SpeechTranscript.id != row.id,
                    SpeechTranscript.created_at >= cutoff,
                )
            )
            if still_used is None:
                path.unlink(missing_ok=True)
        session.delete(row)
    session.flush()
    return len(gone)


AUDIO_MAGIC = (b"RIFF", b"RIFX", b"RF64", b"fLaC", b"OggS", b"\x1a\x45\xdf\xa3")


def is_audio_file(path: Path) -> bool:
    """Whether ``path`` starts like a WAV, FLAC, Ogg or WebM file."""
    try:
        with path.open("rb") as handle:
            head = handle.read(4)
    except OSError:
        return False
    return head in AUDIO_MAGIC


def language_for(settings: Settings, lang: str | None) -> rules.Lang:
    """``lang``, else the catalog's default language if an engine serves it, else English."""
    if lang is not None:
        if lang not in rules.LANGS:
            raise InvalidInput(f"language: one of {', '.join(rules.LANGS)}")
        return "es" if lang == "es" else "en"
    first: rules.Lang = "en" if languages.DEFAULT_LANGUAGE == "en" else "es"
    try:
        engine_for(settings, first)
    except ConfigurationError:
        return "en"
    return first


def transcribe_file(
    path: Path, settings: Settings, *, lang: str | None = None, agent_channel: int = 0
) -> tuple[T.Recording, dict[str, rules.Finding], list[T.AudioEvent]]:
    """Transcribe a recording file (the CLI's way, no database)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise NotFound(f"{path}: no such file") from exc
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read: {exc}") from exc
    if agent_channel not in (0, 1):
        raise InvalidInput("agent channel: 0 or 1")
    try:
        decoded = A.read_audio(data, name=str(path))
    except A.AudioFormatError as exc:
        raise InvalidInput(str(exc)) from exc
    chosen = language_for(settings, lang)
    options = _options(settings, agent_channel)
    recording = T.transcribe_audio(decoded, engine_for(settings, chosen), chosen, options)
    findings, events = T.audio_findings(recording, options)
    return recording, findings, events
