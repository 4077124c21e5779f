"""Calls first (ADR 26): with every place and thread of the other lane held by slow requests, a
caller's webhook and page still answer, and one more slow request is turned away with 503."""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import Any

import anyio.to_thread
import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator

from escucha.admission import Lanes, is_call
from escucha.app import create_app
from escucha.auth import api as auth_api
from escucha.auth.api import Public
from escucha.auth.models import User
from escucha.clock import FrozenClock
from escucha.config import Settings
from escucha.voice.models import AgentDesk
from tests.conftest import csrf_from, login
from tests.factories import demo, demo_users

TOKEN = "12345678901234567890123456789012"
HOST = "127.0.0.1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def test_the_lanes_by_path() -> None:
    assert is_call("/telephony/twilio/gather")
    assert is_call("/phone")
    assert is_call("/phone/voice/events")
    assert not is_call("/phones")
    assert not is_call("/agent/events")
    assert not is_call("/reports/agents")
    assert not is_call("/api/v1/agents/me")


def test_a_webhook_answers_while_slow_reports_fill_the_other_lane(
    settings: Settings, session: Session, clock: FrozenClock
) -> None:
    demo_users(session)
    app = create_app(
        settings.model_copy(update={"twilio_auth_token": TOKEN, "run_worker": False}), clock=clock
    )
    lanes: Lanes = app.state.lanes
    lanes.wait_s = 0.5
    release = threading.Event()
    inside = 0
    guard = threading.Lock()

    @app.get("/reports/held")
    def held(_caller: Public) -> dict[str, bool]:
        """A report that takes as long as the test says: it holds its place and its thread."""
        nonlocal inside
        with guard:
            inside += 1
        return {"released": release.wait(30)}

    port = _free_port()
    base = f"http://{HOST}:{port}"
    server = uvicorn.Server(uvicorn.Config(app, host=HOST, port=port, log_level="warning"))

    async def scenario() -> None:
        serving = asyncio.create_task(server.serve())
        try:
            async with httpx.AsyncClient(base_url=base, timeout=20) as http:
                for _ in range(100):
                    if server.started:
                        break
                    await asyncio.sleep(0.05)
                reports = [
                    asyncio.create_task(http.get("/reports/held")) for _ in range(lanes.others)
                ]
                for _ in range(200):  # every place and thread of the other lane is taken
                    if inside == lanes.others:
                        break
                    await asyncio.sleep(0.05)
                assert inside == lanes.others

                turned_away = await http.get("/reports/held")
                assert turned_away.status_code == 503
                assert turned_away.headers["retry-after"] == str(lanes.retry_after_s)

                body = {"CallSid": "CA" + "c" * 32, "From": "+34600111222", "To": "+34910000000"}
                url = f"{base}/telephony/twilio/voice"
                signature = RequestValidator(TOKEN).compute_signature(url, body)
                call = await asyncio.wait_for(
                    http.post(url, data=body, headers={"X-Twilio-Signature": signature}), 10
                )
                assert call.status_code == 200
                assert "<Gather" in call.text
                page = await asyncio.wait_for(http.get("/phone"), 10)
                assert page.status_code == 200

                assert not any(r.done() for r in reports)  # still held while the call answered
                release.set()
                answers = await asyncio.wait_for(asyncio.gather(*reports), 10)
                assert [a.json() for a in answers] == [{"released": True}] * lanes.others
        finally:
            release.set()
            server.should_exit = True
            await asyncio.wait_for(serving, 10)

    asyncio.run(scenario())


def test_a_desk_beat_commits_its_write_in_its_own_thread(
    app: FastAPI, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A desk's beat (when its microphone's test changes) is committed in the thread that made
    it, not left holding the database's writer lock (SQLite's one lock) while the request goes
    back to the event loop to be ended on another thread."""
    demo(session)
    session.commit()
    ended_later: list[bool] = []

    async def counting_end(func: Any, *args: Any) -> Any:
        ended_later.append(True)
        return await anyio.to_thread.run_sync(func, *args)

    monkeypatch.setattr(auth_api, "run_end", counting_end)
    with TestClient(app) as client:
        assert login(client, "ana", "escucha-demo").status_code == 303
        token = csrf_from(client.get("/agent").text)
        ended_later.clear()
        r = client.post("/agent/voice/beat", json={"mic_ok": True}, headers={"X-CSRF-Token": token})
        assert r.status_code == 200, r.text
    assert ended_later == []
    ana = session.scalars(select(User).where(User.username == "ana")).one()
    desk = session.get(AgentDesk, ana.id)
    assert desk is not None
    assert desk.mic_ok is True
