"""A desk open on one server process is pushed when its agent changes through another
(ADR 25): on PostgreSQL by ``NOTIFY``, on SQLite by the change log read once a second."""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session

from escucha.auth import service as auth_service
from escucha.config import Settings
from tests.factories import PASSWORD, demo, make_login_user
from tests.system.conftest import free_port, server_env, start_server, stop, wait_ready

pytestmark = pytest.mark.system

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def test_a_change_made_through_one_node_pushes_the_desk_open_on_the_other(
    settings: Settings, session: Session, tmp_path: Path
) -> None:
    demo(session, users=[])
    agent = make_login_user(session, "pushed")
    token = auth_service.create_token(session, agent, "bot", now=datetime.now(UTC))
    session.commit()
    nodes = []
    try:
        for name in ("a", "b"):
            port = free_port()
            log = tmp_path / f"node-{name}.log"
            proc = start_server(server_env(settings, port), log, "--no-worker")
            nodes.append((f"http://127.0.0.1:{port}", proc, log))
        for url, proc, log in nodes:
            wait_ready(url, proc, log)
        desk_events: list[tuple[float, str]] = []
        opened = threading.Event()
        with httpx.Client(base_url=nodes[0][0], timeout=30) as desk:
            page = desk.get("/login")
            match = _CSRF.search(page.text)
            assert match is not None
            form = {"username": "pushed", "password": PASSWORD, "csrf_token": match.group(1)}
            assert desk.post("/login", data=form).status_code == 303

            def read() -> None:
                headers = {"accept": "text/event-stream"}
                with desk.stream("GET", "/agent/events", headers=headers) as r:
                    buffer = ""
                    for text in r.iter_text():
                        buffer += text
                        while "\n\n" in buffer:
                            one, buffer = buffer.split("\n\n", 1)
                            if one.startswith("event: desk"):
                                desk_events.append((time.monotonic(), one))
                                opened.set()
                            if len(desk_events) >= 2:
                                return

            reader = threading.Thread(target=read, daemon=True)
            reader.start()
            assert opened.wait(30), "the desk is drawn when it opens"
            time.sleep(1.5)  # the other node's change comes while the desk waits
            changed = time.monotonic()
            auth = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=nodes[1][0], timeout=10, headers=auth) as other:
                r = other.put(f"/api/v1/agents/{agent.id}/state", json={"state": "break"})
                assert r.status_code == 200, r.text
            reader.join(10)
        assert len(desk_events) == 2, "the desk on node a was pushed"
        assert desk_events[1][0] - changed < 3.0  # not the safety refresh (30 s)
    finally:
        for _, proc, _ in nodes:
            stop(proc)
