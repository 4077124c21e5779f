"""A web call's recorded legs are transcribed once complete and scored by automatic QA: the
desk's WebM/Opus pieces, the agent on channel 0 and the customer on channel 1 (ADR 15, 19)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
import soundfile as sf
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from escucha.asterisk import service as pbx
from escucha.clock import FrozenClock
from escucha.config import Settings
from escucha.contacts.models import Contact
from escucha.jobs.models import Job
from escucha.jobs.service import run_due
from escucha.qa import reviews as qa
from escucha.qa import rules
from escucha.routing import service as routing
from escucha.speech import synth
from escucha.speech.models import SpeechTranscript
from escucha.voice import rules as R
from escucha.voice import service as voice
from tests.conftest import START
from tests.factories import demo
from tests.speech import opus
from tests.speech.conftest import SHORT_EN
from tests.speech.standins import Script, whisper_server
from tests.voice.test_liveness import web_call
from tests.voice.test_recording import desk, piece, start_leg


@pytest.fixture(scope="module")
def call_en(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, synth.Truth]:
    cache = tmp_path_factory.mktemp("speech-recordings")
    return synth.render_cached(rules.parse_text(SHORT_EN), "en", cache)


@pytest.fixture
def english_call(session: Session) -> Contact:
    users = demo(session)
    contact, _caller = web_call(session, "page-en", now=START, language="en")
    routing.set_agent_state(session, users["ana"], "available", now=START)
    routing.answer(session, users["ana"], contact.id, now=START)
    session.commit()
    return contact


@pytest.fixture
def conf(settings: Settings, call_en: tuple[Path, synth.Truth]) -> Iterator[Settings]:
    """Calls recorded; English transcribed by a local stand-in of a whisper.cpp server that
    answers each utterance of the conversation in turn."""
    truth = call_en[1]
    script = Script(
        [(float(t["end_s"]) - float(t["start_s"]), str(t["text"])) for t in truth.turns]  # type: ignore[arg-type]
    )
    with whisper_server(script) as url:
        yield settings.model_copy(
            update={"record_calls": True, "speech_engine": "whisper", "speech_url": url}
        )


def _transcripts(session: Session) -> list[SpeechTranscript]:
    session.expire_all()
    return list(session.scalars(select(SpeechTranscript).order_by(SpeechTranscript.id)))


def test_a_recorded_leg_is_transcribed_once_the_call_ends_and_scored_by_automatic_qa(
    english_call: Contact,
    conf: Settings,
    call_en: tuple[Path, synth.Truth],
    clock: FrozenClock,
    session: Session,
    session_factory: sessionmaker[Session],
) -> None:
    wav, truth = call_en
    webm = opus.from_wav(wav.read_bytes())
    contact_id = english_call.id
    with desk(conf, clock, "ana") as (client, token):
        leg = start_leg(client, token, contact_id)
        # the desk's recorder gives a piece every 5 s; the pieces joined are one WebM stream
        cuts = [0, len(webm) // 3, 2 * len(webm) // 3, len(webm)]
        for seq, (a, b) in enumerate(itertools.pairwise(cuts)):
            clock.advance(5)
            assert piece(client, token, contact_id, leg, seq, webm[a:b]).status_code == 200
        # while the agent is on the call, the leg may still grow: nothing is transcribed
        clock.advance(R.LEG_CHECK_S)
        run_due(session_factory, conf, clock)
        assert _transcripts(session) == []
        ended = client.post(
            f"/agent/contacts/{contact_id}/end",
            data={"csrf_token": token},
            headers={"X-CSRF-Token": token},
            follow_redirects=False,
        )
        assert ended.status_code in (200, 303), ended.text
    # a piece may still come LEG_TAIL_S after the last one; then the leg is complete
    clock.advance(R.LEG_TAIL_S + R.LEG_CHECK_S)
    run_due(session_factory, conf, clock)
    (row,) = _transcripts(session)
    assert row.status == "done", row.error
    assert (row.source, row.language, row.channels) == ("voice", "en", 2)
    assert Path(row.recording_uri).name == "leg1.webm"
    assert Path(row.recording_uri).read_bytes() == webm
    assert [t["speaker"] for t in row.turns] == [t["speaker"] for t in truth.turns]
    assert row.audio["speakers_guessed"] is False
    # once per leg: later runs ask nothing more
    clock.advance(3600)
    run_due(session_factory, conf, clock)
    assert len(_transcripts(session)) == 1
    finishing = session.scalars(select(Job).where(Job.name == "voice.finish_leg")).all()
    assert all(j.status == "done" for j in finishing)
    # automatic QA read it: the ten seconds of silence are a hold nobody announced
    qa_row = qa.transcript_of(session, contact_id)
    assert qa_row is not None
    assert qa_row.source == "speech"
    result = qa.auto_qa(qa_row)
    assert result is not None
    assert result.criteria["greeting"].met is True
    assert result.criteria["holds_announced"].met is False
    # and the review page shows the transcript and the automatic scores
    with desk(conf, clock, "sofia") as (sup, _token):
        page = sup.get(f"/qa/contacts/{contact_id}").text
        audio = sup.get(f"/qa/contacts/{contact_id}/recordings/{row.id}/audio")
    assert "Evaluación automática" in page
    assert '<span class="badge good">cumple</span>' in page  # the greeting
    assert '<span class="badge bad">no cumple</span>' in page  # the hold not announced
    assert "An engineer will call you today before five." in page
    assert f"/qa/contacts/{contact_id}/recordings/{row.id}/audio" in page
    assert audio.headers["content-type"] == "audio/webm"
    assert audio.content == webm


def test_a_leg_with_too_little_audio_is_skipped_saying_why(
    english_call: Contact,
    conf: Settings,
    call_en: tuple[Path, synth.Truth],
    clock: FrozenClock,
    session: Session,
    session_factory: sessionmaker[Session],
) -> None:
    wav, _truth = call_en
    frames, rate = sf.read(str(wav), dtype="float32", always_2d=True)
    short = opus.encode([frames[: rate // 2, 0], frames[: rate // 2, 1]], int(rate))
    contact = session.get_one(Contact, english_call.id)
    agent = contact.agent_id or 0
    rec = voice.start_leg(session, contact, user_id=agent, content_type="audio/webm", now=START)
    voice.add_chunk(
        session,
        contact.id,
        user_id=agent,
        leg=rec.leg,
        seq=0,
        data=short,
        content_type="audio/webm",
        now=START,
        settings=conf,
    )
    routing.end_call(session, agent, contact.id, now=START, ended_by="agent")
    session.commit()
    clock.advance(R.LEG_TAIL_S + R.LEG_CHECK_S)
    run_due(session_factory, conf, clock)
    (row,) = _transcripts(session)
    assert row.status == "skipped"
    assert row.error == "0.5 s of audio: too little to transcribe"
    assert Path(row.recording_uri).name == "000000.part"  # one piece: nothing to join
    clock.advance(3600)
    assert run_due(session_factory, conf, clock) == 0  # no error loop
    assert qa.transcript_of(session, contact.id) is None
    with desk(conf, clock, "sofia") as (sup, _token):
        page = sup.get(f"/qa/contacts/{contact.id}").text
    assert "sin transcribir" in page
    assert "too little to transcribe" in page


def test_each_bridge_recording_from_the_pbx_is_a_leg_transcribed_on_its_own(
    english_call: Contact,
    conf: Settings,
    call_en: tuple[Path, synth.Truth],
    clock: FrozenClock,
    session: Session,
    session_factory: sessionmaker[Session],
) -> None:
    wav, truth = call_en
    contact = session.get_one(Contact, english_call.id)
    colleague = demo(session)["luis"]
    data = wav.read_bytes()
    first = pbx.attach_recording(
        session, contact, data, user_id=contact.agent_id or 0, now=START, settings=conf
    )
    second = pbx.attach_recording(
        session, contact, data, user_id=colleague, now=START, settings=conf, leg=2
    )
    again = pbx.attach_recording(
        session, contact, data[:100], user_id=colleague, now=START, settings=conf, leg=2
    )
    assert first is not None
    assert second is not None
    assert again is second  # a leg already attached is kept
    assert [(r.leg, r.user_id) for r in voice.recordings_of(session, contact.id)] == [
        (1, contact.agent_id),
        (2, colleague),
    ]
    session.commit()
    run_due(session_factory, conf, clock)
    rows = _transcripts(session)
    assert [Path(r.recording_uri).name for r in rows] == [
        R.piece_name(1, 0),
        R.piece_name(2, 0),
    ]
    for row in rows:
        assert (row.status, row.source, row.channels) == ("done", "voice", 2), row.error
    assert [t["speaker"] for t in rows[0].turns] == [t["speaker"] for t in truth.turns]
