"""Recordings made in the agent's desk: a leg per agent, pieces in order, listens audited,
retention (ADR 15)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha.app import create_app
from escucha.audit.models import AuditEvent
from escucha.auth.models import User
from escucha.clock import FrozenClock
from escucha.config import Settings
from escucha.contacts.models import Contact
from escucha.routing import service as routing
from escucha.voice import rules as R
from escucha.voice import service as voice
from escucha.voice.models import VoiceRecording
from tests.conftest import START, csrf_from, login
from tests.factories import demo
from tests.voice.test_liveness import web_call

WEBM = {"Content-Type": "audio/webm;codecs=opus"}
S = timedelta(seconds=1)


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


@contextmanager
def desk(settings: Settings, clock: FrozenClock, user: str) -> Iterator[tuple[TestClient, str]]:
    with TestClient(create_app(settings, clock=clock)) as c:
        assert login(c, user, "escucha-demo").status_code == 303
        yield c, csrf_from(c.get("/agent").text)


@pytest.fixture
def ana(recording: Settings, clock: FrozenClock) -> Iterator[tuple[TestClient, str]]:
    with desk(recording, clock, "ana") as found:
        yield found


def start_leg(client: TestClient, token: str, contact_id: int, status: int = 200) -> Any:
    r = client.post(
        f"/agent/voice/recording/{contact_id}",
        json={"type": "audio/webm;codecs=opus"},
        headers={"X-CSRF-Token": token},
    )
    assert r.status_code == status, r.text
    return r.json()["leg"] if status == 200 else r


def piece(client: TestClient, token: str, contact_id: int, leg: int, seq: int, data: bytes) -> Any:
    return client.post(
        f"/agent/voice/recording/{contact_id}/{leg}/{seq}",
        content=data,
        headers={**WEBM, "X-CSRF-Token": token},
    )


def test_pieces_are_kept_in_order_once_and_a_listen_is_audited(
    talking: Contact,
    ana: tuple[TestClient, str],
    recording: Settings,
    clock: FrozenClock,
    session: Session,
) -> None:
    client, token = ana
    leg = start_leg(client, token, talking.id)
    assert leg == 1
    assert piece(client, token, talking.id, leg, 0, b"first").status_code == 200
    assert piece(client, token, talking.id, leg, 0, b"first").status_code == 200  # resent
    gap = piece(client, token, talking.id, leg, 2, b"third")
    assert gap.status_code == 409
    assert "piece 1 is missing" in gap.text
    second = piece(client, token, talking.id, leg, 1, b"-second")
    assert second.json() == {"leg": 1, "chunks": 2}
    wrong = client.post(
        f"/agent/voice/recording/{talking.id}/{leg}/2",
        content=b"x",
        headers={"Content-Type": "text/html", "X-CSRF-Token": token},
    )
    assert wrong.status_code == 422
    other = client.post(
        f"/agent/voice/recording/{talking.id}/{leg}/2",
        content=b"x",
        headers={"Content-Type": "audio/ogg", "X-CSRF-Token": token},
    )
    assert other.status_code == 422  # one leg, one format
    assert "recorded as audio/webm" in other.text
    # agents cannot listen; a supervisor can, and the listen is in the audit trail
    assert client.get(f"/voice/recordings/{talking.id}/1").status_code == 403
    with desk(recording, clock, "sofia") as (sup, _token):
        played = sup.get(f"/voice/recordings/{talking.id}/1")
        assert played.status_code == 200
        assert played.content == b"first-second"
        assert played.headers["content-type"].startswith("audio/webm")
        assert sup.get(f"/voice/recordings/{talking.id}").content == b"first-second"  # leg 1
        assert sup.get(f"/voice/recordings/{talking.id}/2").status_code == 404
        page = sup.get(f"/qa/contacts/{talking.id}")
        assert f'src="/voice/recordings/{talking.id}/1"' in page.text
    session.expire_all()
    listened = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "recording.listened")
    ).all()
    assert len(listened) == 2
    assert (listened[0].subject_id, listened[0].actor.split(":")[2]) == (talking.id, "sofia")
    assert listened[0].data["leg"] == 1


def test_an_agent_records_only_their_own_call_and_only_where_recording_is_on(
    talking: Contact, settings: Settings, clock: FrozenClock
) -> None:
    with desk(settings, clock, "ana") as (c, token):
        off = c.post(
            f"/agent/voice/recording/{talking.id}",
            json={"type": "audio/webm"},
            headers={"X-CSRF-Token": token},
        )
        assert off.status_code == 409  # ESCUCHA_RECORD_CALLS is off
    recording = settings.model_copy(update={"record_calls": True})
    with desk(recording, clock, "ana") as (c, token):
        leg = start_leg(c, token, talking.id)
        assert (
            start_leg(
                c,
                token,
                talking.id,
            )
            == leg + 1
        )  # reload
        bad = c.post(
            f"/agent/voice/recording/{talking.id}",
            json={"type": "video/mp4"},
            headers={"X-CSRF-Token": token},
        )
        assert bad.status_code == 422
    with desk(recording, clock, "luis") as (c, token):
        assert start_leg(c, token, talking.id, status=403).status_code == 403
        theirs = piece(c, token, talking.id, leg, 0, b"x")
        assert theirs.status_code == 403  # Ana's leg is not Luis's to write


def _hand_over(session: Session, contact: Contact, *, to: str, now: datetime) -> None:
    """The agent on the call puts the customer on hold, talks to a colleague, hands over."""
    users = {u.username: u.id for u in session.scalars(select(User))}
    routing.set_agent_state(session, users[to], "available", now=now)
    voice.desk_beat(session, users[to], now=now, mic_ok=True)
    agent = contact.agent_id or 0
    routing.hold(session, agent, contact.id, now=now, announced=True)
    consult = voice.start_consult(session, agent, contact.id, users[to], now=now, note="")
    voice.answer_consult(session, users[to], consult.id, now=now + S)
    voice.hand_over(session, agent, consult.id, now=now + 2 * S)
    session.commit()


def test_each_agent_a_handed_over_call_reaches_records_their_own_leg(
    talking: Contact, recording: Settings, clock: FrozenClock, session: Session
) -> None:
    with (
        desk(recording, clock, "ana") as (ana, a_token),
        desk(recording, clock, "luis") as (
            luis,
            l_token,
        ),
    ):
        first = start_leg(ana, a_token, talking.id)
        assert piece(ana, a_token, talking.id, first, 0, b"ana-0").status_code == 200
        clock.advance(5)
        contact = session.get(Contact, talking.id)
        assert contact is not None
        _hand_over(session, contact, to="luis", now=clock.now())
        clock.advance(3)
        # Ana's recorder gives its last piece just after the call left her desk
        assert piece(ana, a_token, talking.id, first, 1, b"|ana-1").status_code == 200
        assert start_leg(ana, a_token, talking.id, status=403).status_code == 403
        second = start_leg(luis, l_token, talking.id)
        assert second == 2
        assert piece(luis, l_token, talking.id, second, 0, b"luis-0").status_code == 200
        clock.advance(R.LEG_TAIL_S + 1)
        late = piece(ana, a_token, talking.id, first, 2, b"|ana-2")
        assert late.status_code == 403  # long after: no longer hers
        with desk(recording, clock, "sofia") as (sup, _token):
            assert sup.get(f"/voice/recordings/{talking.id}/1").content == b"ana-0|ana-1"
            assert sup.get(f"/voice/recordings/{talking.id}/2").content == b"luis-0"
            page = sup.get(f"/qa/contacts/{talking.id}").text
    legs = voice.recordings_of(session, talking.id)
    assert [(r.leg, r.chunks) for r in legs] == [(1, 2), (2, 1)]
    assert legs[0].user_id != legs[1].user_id
    # the review page plays each leg in order, named by its agent, with the hold in Ana's leg
    one = page.index(f'src="/voice/recordings/{talking.id}/1"')
    two = page.index(f'src="/voice/recordings/{talking.id}/2"')
    assert one < two
    assert "Ana" in page[one:two]
    assert "Luis" in page[two:]
    assert "Espera en el 0:05 de esta parte, 0:02" in page[one:two], page[one:two]
    assert "Espera en el" not in page[two : page.index("</section>", two)]


def test_recordings_past_the_retention_are_deleted_by_the_job(
    talking: Contact, recording: Settings, session: Session
) -> None:
    contact = session.get(Contact, talking.id)
    assert contact is not None
    agent = contact.agent_id or 0
    for leg in (1, 2):
        voice.start_leg(session, contact, user_id=agent, content_type="audio/webm", now=START)
        voice.add_chunk(
            session,
            contact.id,
            user_id=agent,
            leg=leg,
            seq=0,
            data=b"sound",
            content_type="audio/webm",
            now=START,
            settings=recording,
        )
    folder = voice.recordings_dir(recording) / str(contact.id)
    assert (folder / "000000.part").read_bytes() == b"sound"
    assert (folder / "leg2-000000.part").read_bytes() == b"sound"
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
        == 2
    )
    assert not folder.exists()
    rows = session.scalars(
        select(VoiceRecording).where(VoiceRecording.contact_id == contact.id)
    ).all()
    assert [r.deleted_at is not None for r in rows] == [True, True]
    assert voice.recordings_of(session, contact.id) == []
