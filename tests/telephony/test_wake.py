"""A waiting Twilio caller is woken when an agent is chosen (W1): escucha redirects the live
call through Twilio's REST API (a stand-in on loopback here, spoken to over real HTTP), so the
wait loop can stay silent until the next announcement instead of coming back every 2 s."""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from escucha.clock import FrozenClock
from escucha.config import Settings
from escucha.contacts.models import Contact
from escucha.jobs import models as jobs
from escucha.jobs.service import run_due
from escucha.routing import service as routing
from escucha.telephony import calls as tel
from escucha.telephony import dialer
from escucha.telephony import rules as R
from escucha.telephony.twilio import twiml
from tests.conftest import START
from tests.factories import demo

ACCOUNT = "AC" + "1" * 32
CALL = "CA" + "7" * 32


class FakeTwilioApi:
    """Answers ``POST /2010-04-01/Accounts/{AC}/Calls/{CA}.json`` like Twilio and records it."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, list[str]]]] = []
        self.status = 200
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                api.requests.append((self.path, parse_qs(body.decode())))
                sid = re.sub(r".*/Calls/(CA\w+)\.json$", r"\1", self.path)
                if api.status == 200:
                    payload: dict[str, Any] = {"sid": sid, "status": "in-progress"}
                else:
                    payload = {"code": 21220, "message": "Call is not in-progress", "status": 400}
                data = json.dumps(payload).encode()
                self.send_response(api.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def twilio_api() -> Iterator[FakeTwilioApi]:
    api = FakeTwilioApi()
    yield api
    api.close()


def _rest_settings(settings: Settings, api: FakeTwilioApi) -> Settings:
    return settings.model_copy(
        update={
            "twilio_account_sid": ACCOUNT,
            "twilio_auth_token": "secret",
            "twilio_api_url": api.url,
            "base_url": "https://escucha.example.org",
        }
    )


def _caller_in_line(session: Session) -> dict[str, int]:
    users = demo(session)
    tel.incoming_call(
        session, provider="twilio", call_ref=CALL, from_number="+34600111222", now=START
    )
    tel.caller_input(session, "twilio", CALL, now=START, digits="2")
    return users


def _wake_jobs(session: Session) -> list[jobs.Job]:
    return list(session.scalars(select(jobs.Job).where(jobs.Job.name == "telephony.wake")))


def test_an_offer_to_a_twilio_caller_redirects_the_live_call(
    session: Session,
    session_factory: sessionmaker[Session],
    settings: Settings,
    clock: FrozenClock,
    twilio_api: FakeTwilioApi,
) -> None:
    users = _caller_in_line(session)
    assert _wake_jobs(session) == []  # nobody to wake while no agent is free
    routing.set_agent_state(session, users["ana"], "available", now=START + timedelta(seconds=9))
    contact = session.scalar(select(Contact).where(Contact.provider_ref == f"twilio:{CALL}"))
    assert contact is not None
    assert contact.state == "offered"
    assert [j.payload for j in _wake_jobs(session)] == [{"contact_id": contact.id}]
    session.commit()
    clock.advance(10)
    run_due(session_factory, _rest_settings(settings, twilio_api), clock)
    assert len(twilio_api.requests) == 1
    path, form = twilio_api.requests[0]
    assert path == f"/2010-04-01/Accounts/{ACCOUNT}/Calls/{CALL}.json"
    assert form["Url"] == ["https://escucha.example.org/telephony/twilio/wait?woken=1"]
    assert form["Method"] == ["POST"]
    # the redirected line fetches the wait loop and is put through to the agent
    turn = tel.wait_turn(session, "twilio", CALL, now=START + timedelta(seconds=10), woken=True)
    assert R.Connect(users["ana"]) in turn.actions


def _offered_to_ana(session: Session) -> tuple[dict[str, int], int]:
    """A Twilio caller in line, offered to ana as she becomes available; the contact's id."""
    users = _caller_in_line(session)
    routing.set_agent_state(session, users["ana"], "available", now=START + timedelta(seconds=9))
    return users, int(_wake_jobs(session)[0].payload["contact_id"])


def test_nothing_is_sent_without_credentials_or_once_the_offer_is_gone(
    session: Session, settings: Settings, twilio_api: FakeTwilioApi
) -> None:
    users, contact_id = _offered_to_ana(session)
    no_rest = settings.model_copy(update={"twilio_api_url": twilio_api.url})
    rest = _rest_settings(settings, twilio_api)
    soon = START + timedelta(seconds=10)
    assert dialer.wake_line(session, contact_id, settings=no_rest, now=soon) is False
    # too late: the caller's own pass of the wait loop connects by now
    late = START + timedelta(seconds=9 + R.WAKE_WITHIN_S)
    assert dialer.wake_line(session, contact_id, settings=rest, now=late) is False
    routing.decline(session, users["ana"], contact_id, now=soon)
    assert dialer.wake_line(session, contact_id, settings=rest, now=soon) is False
    assert twilio_api.requests == []


def test_a_call_twilio_says_has_ended_is_left_to_its_status_webhook(
    session: Session, settings: Settings, twilio_api: FakeTwilioApi
) -> None:
    _users, contact_id = _offered_to_ana(session)
    twilio_api.status = 400
    soon = START + timedelta(seconds=10)
    rest = _rest_settings(settings, twilio_api)
    assert dialer.wake_line(session, contact_id, settings=rest, now=soon) is False
    assert len(twilio_api.requests) == 1
    # nobody answering at all: logged, not raised (the wait loop connects by itself)
    gone = rest.model_copy(update={"twilio_api_url": f"http://127.0.0.1:{_closed_port()}"})
    assert dialer.wake_line(session, contact_id, settings=gone, now=soon) is False


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_on_a_woken_line_only_the_woken_fetch_connects_within_the_grace(
    session: Session,
) -> None:
    """A plain pass of the wait loop right after the offer waits two more seconds, so a
    redirect arriving then never cuts a call already being put through; after the grace any
    pass connects, and a line that is not woken connects at once."""
    users, _contact_id = _offered_to_ana(session)  # offered at START + 9 s
    connect = R.Connect(users["ana"])
    at = START + timedelta(seconds=12)
    plain = tel.wait_turn(session, "twilio", CALL, now=at, woken=False)
    assert connect not in plain.actions
    assert '<Pause length="2" />' in twiml(plain, woken=True)
    assert connect in tel.wait_turn(session, "twilio", CALL, now=at, woken=True).actions
    assert connect in tel.wait_turn(session, "twilio", CALL, now=at, woken=None).actions
    after = START + timedelta(seconds=9 + R.WOKEN_GRACE_S)
    assert connect in tel.wait_turn(session, "twilio", CALL, now=after, woken=False).actions


def test_a_woken_line_is_silent_until_the_next_announcement(session: Session) -> None:
    _caller_in_line(session)  # joined the line at START and heard the first announcement
    turn = tel.wait_turn(session, "twilio", CALL, now=START + timedelta(seconds=12))
    gather = turn.actions[0]
    assert isinstance(gather, R.Gather)
    assert gather.prompts == ()  # nothing to say yet
    assert gather.quiet_s == pytest.approx(R.ANNOUNCE_EVERY_S - 12)
    polled = twiml(turn, base_url="https://escucha.example.org")
    woken = twiml(turn, base_url="https://escucha.example.org", woken=True)
    assert '<Pause length="2" />' in polled
    assert '<Pause length="18" />' in woken
    assert woken.endswith(
        '<Redirect method="POST">https://escucha.example.org/telephony/twilio/wait</Redirect></Response>'
    )
    # when the announcement is due it is said, and the silence after it lasts a whole period
    turn = tel.wait_turn(session, "twilio", CALL, now=START + timedelta(seconds=31))
    gather = turn.actions[0]
    assert isinstance(gather, R.Gather)
    assert gather.prompts
    assert gather.quiet_s == R.ANNOUNCE_EVERY_S


def test_quiet_for_counts_down_to_the_next_announcement() -> None:
    assert R.quiet_for(None, START, 30) == 0
    assert R.quiet_for(START, START + timedelta(seconds=10), 30) == 20
    assert R.quiet_for(START, START + timedelta(seconds=45), 30) == 0
