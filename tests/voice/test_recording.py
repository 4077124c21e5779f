"""Recordings made in the agent's desk: pieces in order, listens audited, retention (ADR 15)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha.app import create_app
from escucha.audit.models import AuditEvent
from escucha.clock import FrozenClock
from escucha.config import Settings
from escucha.contacts.models import Contact
from escucha.routing import service as routing
from escucha.voice import service as voice
from escucha.voice.models import VoiceRecording
from tests.conftest import START, csrf_from, login
from tests.factories import demo
from tests.voice.test_liveness import web_call

WEBM = {"Content-Type": "audio/webm;codecs=opus"}


@pytest.fixture
def recording(settings: Settings) -> Settings:
    return settings.model_copy(update={"record_calls": True})


@pytest.fixture
def talking(session: Session, monkeypatch: pytest.MonkeyPatch) -> Contact:
    users = demo(session)
    contact, _caller = web_call(session, "page-r", now=START)
    routing.set_agent_state(session, users["ana"], "available", now=START)
    routing.answer(session, users["ana"], contact.id, now=START)
    session.commit()
    return contact


@pytest.fixture
def ana(recording: Settings, clock: FrozenClock) -> Iterator[tuple[TestClient, str]]:
    with TestClient(create_app(recording, clock=clock)) as c:
        assert login(c, "ana", "escucha-demo").status_code == 303
        yield c, csrf_from(c.get("/agent").text)


def test_pieces_are_kept_in_order_once_and_a_listen_is_audited(
    talking: Contact,
    ana: tuple[TestClient, str],
    recording: Settings,
    clock: FrozenClock,
    session: Session,
) -> None:
    client, token = ana
    url = f"/agent/voice/recording/{talking.id}"
    headers = {**WEBM, "X-CSRF-Token": token}
    assert client.post(f"{url}/0", content=b"first", headers=headers).status_code == 200
    assert client.post(f"{url}/0", content=b"first", headers=headers).status_code == 200  # resent
    gap = client.post(f"{url}/2", content=b"third", headers=headers)
    assert gap.status_code == 409
    assert "piece 1 is missing" in gap.text
    assert client.post(f"{url}/1", content=b"-second", headers=headers).json() == {"chunks": 2}
    wrong = client.post(f"{url}/2", content=b"x", headers={**headers, "Content-Type": "text/html"})
    assert wrong.status_code == 422
    # agents cannot listen; a supervisor can, and the listen is in the audit trail
    assert client.get(f"/voice/recordings/{talking.id}").status_code == 403
    with TestClient(create_app(recording, clock=clock)) as sup:
        assert login(sup, "sofia", "escucha-demo").status_code == 303
        played = sup.get(f"/voice/recordings/{talking.id}")
        assert played.status_code == 200
        assert played.content == b"first-second"
        assert played.headers["content-type"].startswith("audio/webm")
        page = sup.get(f"/qa/contacts/{talking.id}")
        assert f'src="/voice/recordings/{talking.id}"' in page.text
    session.expire_all()
    listened = session.scalar(select(AuditEvent).where(AuditEvent.action == "recording.listened"))
    assert listened is not None
    assert (listened.subject_id, listened.actor.split(":")[2]) == (talking.id, "sofia")


def test_an_agent_records_only_their_own_call_and_only_where_recording_is_on(
    talking: Contact, settings: Settings, clock: FrozenClock
) -> None:
    with TestClient(create_app(settings, clock=clock)) as c:
        assert login(c, "ana", "escucha-demo").status_code == 303
        token = csrf_from(c.get("/agent").text)
        off = c.post(
            f"/agent/voice/recording/{talking.id}/0",
            content=b"x",
            headers={**WEBM, "X-CSRF-Token": token},
        )
        assert off.status_code == 409  # ESCUCHA_RECORD_CALLS is off
    recording = settings.model_copy(update={"record_calls": True})
    with TestClient(create_app(recording, clock=clock)) as c:
        assert login(c, "luis", "escucha-demo").status_code == 303
        token = csrf_from(c.get("/agent").text)
        other = c.post(
            f"/agent/voice/recording/{talking.id}/0",
            content=b"x",
            headers={**WEBM, "X-CSRF-Token": token},
        )
        assert other.status_code == 403


def test_recordings_past_the_retention_are_deleted_by_the_job(
    talking: Contact, recording: Settings, session: Session
) -> None:
    contact = session.get(Contact, talking.id)
    assert contact is not None
    voice.add_chunk(
        session,
        contact,
        user_id=contact.agent_id or 0,
        seq=0,
        data=b"sound",
        content_type="audio/webm",
        now=START,
        settings=recording,
    )
    folder = voice.recordings_dir(recording) / str(contact.id)
    assert (folder / "000000.part").read_bytes() == b"sound"
    days = timedelta(days=recording.recording_retention_days)
    assert (
        voice.delete_old_recordings(
            session, now=START + days - timedelta(hours=1), settings=recording
        )
        == 0
    )
    assert (
        voice.delete_old_recordings(
            session, now=START + days + timedelta(hours=1), settings=recording
        )
        == 1
    )
    assert not folder.exists()
    rec = session.scalar(select(VoiceRecording).where(VoiceRecording.contact_id == contact.id))
    assert rec is not None
    assert rec.deleted_at is not None
    assert voice.recording_of(session, contact.id) is None
