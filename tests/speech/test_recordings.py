"""Recordings of contacts become transcripts by jobs: uploaded on the QA screen, fetched after
Twilio's recording callback, masked, scored by automatic QA, shown beside a player, and
forgotten after the retention."""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from escucha.app import create_app
from escucha.audit.models import AuditEvent
from escucha.clock import FrozenClock
from escucha.config import Settings
from escucha.jobs.service import run_due
from escucha.qa import reviews as qa
from escucha.qa.models import Transcript as QaTranscript
from escucha.speech import service as speech
from escucha.speech import synth
from escucha.speech.models import SpeechTranscript
from tests.conftest import START, csrf_from, login
from tests.factories import PASSWORD, make_ended_contact, make_login_user
from tests.speech.standins import Script, vosk_server, whisper_server
from tests.telephony.test_twilio_webhooks import ACCOUNT, SID, TOKEN, sign

CARD = "my card number is four five six seven eight nine one two"


def _script(truth: synth.Truth, replace: dict[int, str] | None = None) -> Script:
    replace = replace or {}
    return Script(
        [
            (float(t["end_s"]) - float(t["start_s"]), replace.get(i, str(t["text"])))  # type: ignore[arg-type]
            for i, t in enumerate(truth.turns)
        ]
    )


@contextmanager
def _speech_settings(
    settings: Settings, tmp_path: Path, script: Script, kind: str = "whisper"
) -> Iterator[Settings]:
    server = vosk_server if kind == "vosk" else whisper_server
    with server(script) as url:
        yield settings.model_copy(
            update={
                "speech_engine": kind,
                "speech_url": url,
                "speech_dir": tmp_path / "recordings",
                "twilio_account_sid": ACCOUNT,
                "twilio_auth_token": TOKEN,
            }
        )


def _verdicts(html: str) -> dict[str, str]:
    """Automatic QA's verdict of each criterion on the review page: label -> badge."""
    section = html.split('class="suggestions"', 1)[1].split("</ul>", 1)[0]
    found = re.findall(
        r'<span class="crit">([^<]+)</span>:\s*<span class="badge[^"]*">([^<]+)</span>', section
    )
    return {label.strip(): badge.strip() for label, badge in found}


def _listens(session: Session, action: str = "recording.listened") -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def _contact(session: Session) -> int:
    make_login_user(session, "sup", "supervisor")
    agent = make_login_user(session, "ana", "agent", "Ana López")
    contact = make_ended_contact(session, agent_id=agent.id, arrived=START - timedelta(hours=1))
    session.commit()
    return int(contact.id)


def _submit_copy(
    session: Session, contact_id: int, wav: Path, copy: Path, *, now: datetime
) -> Path:
    """A copy of ``wav`` at ``copy``, asked to be transcribed as a voice recording in English."""
    copy.write_bytes(wav.read_bytes())
    speech.request_transcription(
        session,
        contact_id=contact_id,
        uri=str(copy),
        sha256=speech.sha256_of(copy.read_bytes()),
        language="en",
        now=now,
    )
    return copy


def test_an_uploaded_recording_is_transcribed_masked_and_scored(
    settings: Settings,
    session: Session,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
    short_en: tuple[Path, synth.Truth],
    tmp_path: Path,
) -> None:
    path, truth = short_en
    contact_id = _contact(session)
    with _speech_settings(settings, tmp_path, _script(truth, {1: CARD})) as conf:
        app = create_app(conf, clock=clock)
        with TestClient(app) as client:
            assert login(client, "sup", PASSWORD).status_code == 303
            page = client.get(f"/qa/contacts/{contact_id}")
            assert "Upload a recording" in page.text or "Subir una grabación" in page.text
            r = client.post(
                f"/qa/contacts/{contact_id}/recording",
                data={"csrf_token": csrf_from(page.text), "language": "en", "agent_channel": "0"},
                files={"recording": ("call.wav", path.read_bytes(), "audio/wav")},
                follow_redirects=False,
            )
            assert r.status_code == 303, r.text
            assert run_due(session_factory, conf, clock) == 1
            session.expire_all()
            row = session.scalars(select(SpeechTranscript)).one()
            assert row.status == "done", row.error
            assert row.source == "upload"
            assert row.engine == "whisper"
            assert row.channels == 2
            assert [t["speaker"] for t in row.turns] == [t["speaker"] for t in truth.turns]
            stored = " ".join(t["text"] for t in row.turns)
            assert "four five six" not in stored
            assert "my card number is [number]" in stored
            assert row.masked == 1
            # automatic QA read it: the silence became a hold, not announced
            qa_row = qa.transcript_of(session, contact_id)
            assert qa_row is not None
            assert qa_row.source == "speech"
            assert "four five six" not in qa_row.raw_text
            result = qa.auto_qa(qa_row)
            assert result is not None
            assert result.hold_count == 1
            assert result.criteria["holds_announced"].met is False
            assert result.criteria["greeting"].met is True
            # shown beside a player that plays the recording, with automatic QA's verdicts
            page = client.get(f"/qa/contacts/{contact_id}")
            assert f"/qa/contacts/{contact_id}/recordings/{row.id}/audio" in page.text
            assert "my card number is [number]" in page.text
            assert _verdicts(page.text)["Anuncia las esperas"] == "no cumple"
            assert _verdicts(page.text)["Se identifica y saluda"] == "cumple"
            assert not _listens(session)
            audio = client.get(f"/qa/contacts/{contact_id}/recordings/{row.id}/audio")
            assert audio.status_code == 200
            assert audio.content == path.read_bytes()
            assert audio.headers["content-type"] == "audio/wav"
            # every listen and every reading of the transcript is in the audit trail
            session.expire_all()
            listens = _listens(session)
            assert [(e.actor.split(":")[-1], e.subject_id) for e in listens] == [
                ("sup", contact_id)
            ]
            assert listens[0].data["recording"] == row.id
            reads = _listens(session, "transcript.read")
            assert [(e.actor.split(":")[-1], e.data["recordings"]) for e in reads] == [
                ("sup", [row.id])
            ]
        with TestClient(app) as agent_client:
            assert login(agent_client, "ana", PASSWORD).status_code == 303
            denied = agent_client.get(f"/qa/contacts/{contact_id}/recordings/{row.id}/audio")
            assert denied.status_code == 403


def test_a_spanish_recording_is_transcribed_by_the_vosk_server_and_scored_in_spanish(
    settings: Settings,
    session: Session,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
    short_es: tuple[Path, synth.Truth],
    tmp_path: Path,
) -> None:
    path, truth = short_es
    contact_id = _contact(session)
    script = _script(truth)
    with _speech_settings(settings, tmp_path, script, "vosk") as conf:
        app = create_app(conf, clock=clock)
        with TestClient(app) as client:
            assert login(client, "sup", PASSWORD).status_code == 303
            page = client.get(f"/qa/contacts/{contact_id}")
            r = client.post(
                f"/qa/contacts/{contact_id}/recording",
                data={"csrf_token": csrf_from(page.text), "language": "es", "agent_channel": "0"},
                files={"recording": ("llamada.wav", path.read_bytes(), "audio/wav")},
                follow_redirects=False,
            )
            assert r.status_code == 303, r.text
            assert run_due(session_factory, conf, clock) == 1
            session.expire_all()
            row = session.scalars(select(SpeechTranscript)).one()
            assert row.status == "done", row.error
            assert (row.engine, row.language) == ("vosk", "es")
            assert [t["text"] for t in row.turns] == [t["text"] for t in truth.turns]
            assert all(seen["rate"] == 16000 for seen in script.seen)
            # scored with the Spanish criteria, the overlap heard in the audio included
            result = qa.auto_qa(qa.transcript_of(session, contact_id))
            assert result is not None
            assert result.lang == "es"
            met = {name: f.met for name, f in result.criteria.items()}
            assert met["greeting"] is True  # "le atiende Marta"
            assert met["recap"] is True  # "Para resumir"
            assert met["concrete_time"] is True  # "hoy antes de las cinco"
            assert met["not_rushed"] is False  # the agent talked over the customer
            page = client.get(f"/qa/contacts/{contact_id}")
            assert _verdicts(page.text)["Resume lo acordado al final"] == "cumple"
            assert "Le atiende Marta" in page.text or "le atiende Marta" in page.text


def test_a_file_that_is_not_audio_is_refused_and_nothing_is_kept(
    settings: Settings, session: Session, clock: FrozenClock, tmp_path: Path
) -> None:
    contact_id = _contact(session)
    conf = settings.model_copy(update={"speech_dir": tmp_path / "recordings"})
    with TestClient(create_app(conf, clock=clock)) as client:
        login(client, "sup", PASSWORD)
        page = client.get(f"/qa/contacts/{contact_id}")
        r = client.post(
            f"/qa/contacts/{contact_id}/recording",
            data={"csrf_token": csrf_from(page.text), "language": "en"},
            files={"recording": ("call.wav", b"AGENT: hello\n", "audio/wav")},
            follow_redirects=False,
        )
    assert r.status_code == 422
    assert "call.wav: not a readable audio file" in r.text
    session.expire_all()
    assert session.scalars(select(SpeechTranscript)).all() == []
    assert not (tmp_path / "recordings").exists() or not any((tmp_path / "recordings").iterdir())


def test_spanish_without_a_speech_server_fails_with_the_settings_to_set(
    settings: Settings,
    session: Session,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
    short_es: tuple[Path, synth.Truth],
    tmp_path: Path,
) -> None:
    contact_id = _contact(session)
    conf = settings.model_copy(update={"speech_dir": tmp_path / "recordings"})
    path, digest = speech.keep_recording(conf, short_es[0].read_bytes())
    speech.request_transcription(
        session, contact_id=contact_id, uri=path, sha256=digest, language="es", now=START
    )
    session.commit()
    run_due(session_factory, conf, clock)
    session.expire_all()
    row = session.scalars(select(SpeechTranscript)).one()
    assert row.status == "failed"
    assert "ESCUCHA_SPEECH_ENGINE_ES" in (row.error or "")


def test_the_legs_of_a_transferred_call_are_read_by_automatic_qa_joined_in_order(
    settings: Settings,
    session: Session,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
    short_en: tuple[Path, synth.Truth],
    tmp_path: Path,
) -> None:
    """Each agent's leg is its own recording and transcript; automatic QA reads the call whole,
    the first leg first, whichever was transcribed first."""
    path, truth = short_en
    contact_id = _contact(session)
    second = {i: f"second agent {t['text']}" for i, t in enumerate(truth.turns)}
    # the second leg happens to be transcribed first (the first one's job comes later)
    script = Script(_script(truth, second).items + _script(truth).items)
    with _speech_settings(settings, tmp_path, script) as conf:
        for name, at in (
            ("leg2.wav", START - timedelta(minutes=2)),
            ("leg1.wav", START - timedelta(minutes=5)),
        ):
            _submit_copy(session, contact_id, path, tmp_path / name, now=at)
            session.commit()
            assert run_due(session_factory, conf, clock) == 1
            session.expire_all()
            alone = qa.transcript_of(session, contact_id)
            assert alone is not None
            if name == "leg2.wav":
                assert qa.transcript_turns(alone)[0].text.startswith("second agent")
    session.expire_all()
    rows = session.scalars(select(SpeechTranscript).order_by(SpeechTranscript.created_at)).all()
    assert [r.status for r in rows] == ["done", "done"]
    assert "second agent" not in str(rows[0].turns)
    assert "second agent" in str(rows[1].turns)
    qa_row = qa.transcript_of(session, contact_id)
    assert qa_row is not None
    turns = qa.transcript_turns(qa_row)
    spoken = [t for t in turns if t.speaker != "hold"]
    assert len(spoken) == 2 * len([t for t in truth.turns if str(t["text"]).strip()])
    half = len(spoken) // 2
    assert not any(t.text.startswith("second agent") for t in spoken[:half])
    assert all(t.text.startswith("second agent") for t in spoken[half:])
    # the second leg's times follow the first's length
    duration = rows[0].duration_s or 0.0
    assert spoken[half].start_s == pytest.approx(spoken[0].start_s + duration, abs=0.05)
    result = qa.auto_qa(qa_row)
    assert result is not None
    assert result.hold_count == 2  # a silence in each leg


def test_a_recording_changed_after_it_was_submitted_is_not_transcribed(
    settings: Settings,
    session: Session,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
    short_en: tuple[Path, synth.Truth],
    tmp_path: Path,
) -> None:
    contact_id = _contact(session)
    copy = _submit_copy(session, contact_id, short_en[0], tmp_path / "call.wav", now=START)
    session.commit()
    copy.write_bytes(copy.read_bytes() + b"\0\0")
    run_due(session_factory, settings, clock)
    session.expire_all()
    row = session.scalars(select(SpeechTranscript)).one()
    assert row.status == "failed"
    assert "SHA-256" in (row.error or "")


@contextmanager
def _twilio_api(recording: bytes, seen: list[dict[str, Any]]) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            seen.append({"path": self.path, "auth": self.headers.get("Authorization", "")})
            if not self.path.endswith("/Recordings/RE1.wav"):
                self.send_response(404)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "audio/x-wav")
            self.send_header("Content-Length", str(len(recording)))
            self.end_headers()
            self.wfile.write(recording)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_twilio_recording_callback_fetches_and_transcribes(
    settings: Settings,
    session: Session,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
    short_en: tuple[Path, synth.Truth],
    tmp_path: Path,
) -> None:
    path, truth = short_en
    contact_id = _contact(session)
    from escucha.contacts.models import Contact

    contact = session.get(Contact, contact_id)
    assert contact is not None
    contact.provider_ref = f"twilio:{SID}"
    contact.language = "en"
    session.commit()
    seen: list[dict[str, Any]] = []
    with (
        _twilio_api(path.read_bytes(), seen) as api,
        _speech_settings(settings, tmp_path, _script(truth)) as base,
    ):
        conf = base.model_copy(update={"twilio_api_url": api, "speech_twilio_agent_channel": 0})
        app: FastAPI = create_app(conf, clock=clock)
        body = {
            "AccountSid": ACCOUNT,
            "CallSid": SID,
            "RecordingSid": "RE1",
            "RecordingUrl": f"{api}/2010-04-01/Accounts/{ACCOUNT}/Recordings/RE1",
            "RecordingStatus": "completed",
            "RecordingDuration": "30",
            "RecordingChannels": "2",
            "RecordingSource": "DialVerb",
        }
        url = "http://testserver/telephony/twilio/recording"
        with TestClient(app) as client:
            unsigned = client.post("/telephony/twilio/recording", data=body)
            assert unsigned.status_code == 403
            ok = client.post(
                "/telephony/twilio/recording",
                data=body,
                headers={"X-Twilio-Signature": sign(url, body)},
            )
            assert ok.status_code == 200, ok.text
            again = client.post(
                "/telephony/twilio/recording",
                data=body,
                headers={"X-Twilio-Signature": sign(url, body)},
            )
            assert again.status_code == 200
        assert run_due(session_factory, conf, clock) == 2  # fetch, then transcribe
    expected = "Basic " + base64.b64encode(f"{ACCOUNT}:{TOKEN}".encode()).decode()
    assert [s["auth"] for s in seen] == [expected]
    session.expire_all()
    row = session.scalars(select(SpeechTranscript)).one()
    assert row.status == "done", row.error
    assert row.source == "twilio"
    assert row.recording_sha256 == speech.sha256_of(path.read_bytes())
    assert [t["text"] for t in row.turns] == [t["text"] for t in truth.turns]


def test_transcripts_are_forgotten_after_the_retention_or_with_their_recording(
    settings: Settings,
    session: Session,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
    short_en: tuple[Path, synth.Truth],
    tmp_path: Path,
) -> None:
    path, truth = short_en
    contact_id = _contact(session)
    with _speech_settings(settings, tmp_path, _script(truth)) as conf:
        kept, digest = speech.keep_recording(conf, path.read_bytes())
        speech.request_transcription(
            session,
            contact_id=contact_id,
            uri=kept,
            sha256=digest,
            language="en",
            now=START,
            source="upload",
        )
        session.commit()
        run_due(session_factory, conf, clock)
    session.expire_all()
    assert session.scalars(select(SpeechTranscript)).one().status == "done"
    assert speech.prune(session, conf, now=START + timedelta(days=89)) == 0
    assert speech.prune(session, conf, now=START + timedelta(days=91)) == 1
    session.commit()
    assert session.scalars(select(SpeechTranscript)).all() == []
    assert (
        session.scalars(select(QaTranscript).where(QaTranscript.contact_id == contact_id)).all()
        == []
    )
    assert not Path(kept).exists()


def test_a_transcript_goes_when_its_recording_is_deleted(
    settings: Settings,
    session: Session,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
    short_en: tuple[Path, synth.Truth],
    tmp_path: Path,
) -> None:
    path, truth = short_en
    contact_id = _contact(session)
    (tmp_path / "voice").mkdir()
    voice_file = _submit_copy(session, contact_id, path, tmp_path / "voice" / "call.wav", now=START)
    with _speech_settings(settings, tmp_path, _script(truth)) as conf:
        session.commit()
        run_due(session_factory, conf, clock)
    session.expire_all()
    assert speech.prune(session, conf, now=START) == 0
    voice_file.unlink()
    assert speech.prune(session, conf, now=START) == 1


@pytest.mark.parametrize("mask", [True, False])
def test_the_mask_setting(
    mask: bool,
    settings: Settings,
    session: Session,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
    short_en: tuple[Path, synth.Truth],
    tmp_path: Path,
) -> None:
    path, truth = short_en
    contact_id = _contact(session)
    with _speech_settings(settings, tmp_path, _script(truth, {3: CARD})) as base:
        conf = base.model_copy(update={"speech_mask_numbers": mask})
        kept, digest = speech.keep_recording(conf, path.read_bytes())
        speech.request_transcription(
            session, contact_id=contact_id, uri=kept, sha256=digest, language="en", now=START
        )
        session.commit()
        run_due(session_factory, conf, clock)
    session.expire_all()
    row = session.scalars(select(SpeechTranscript)).one()
    text = row.turns[3]["text"]
    assert (text == "my card number is [number]") is mask
    assert ("four five six seven" in text) is not mask
