"""SIGKILL the server with callbacks pending: after a restart each is still made, and each
confirmation was sent exactly once (P1)."""

from __future__ import annotations

import json
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha.auth import service as auth_service
from escucha.callbacks.models import Callback
from escucha.config import Settings
from escucha.notifications.models import Notification
from tests.factories import demo
from tests.system.conftest import free_port, server_env, start_server, wait_ready

pytestmark = pytest.mark.system


def _wait(predicate: object, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError("condition not reached in time")


def test_pending_callbacks_survive_a_sigkill(
    settings: Settings, session: Session, tmp_path: Path
) -> None:
    users = demo(session)
    user = auth_service.authenticate(session, "ana", "escucha-demo")
    token = auth_service.create_token(session, user, "t", now=datetime.now(UTC))
    headers = {"Authorization": f"Bearer {token}"}
    session.commit()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    # first life: no worker, so nothing is sent before the kill
    # a dead worker's jobs are taken again after 3 s (30 s by default)
    env = server_env(settings, port, ESCUCHA_JOB_LOCK_S="3")
    proc = start_server(env, log, "--no-worker")
    wait_ready(url, proc, log)
    ids = []
    with httpx.Client(base_url=url, headers=headers, timeout=10) as http:
        for n in range(5):
            c = http.post(
                "/api/v1/contacts", json={"phone": f"60011100{n}", "provider_ref": f"K{n}"}
            )
            cid = c.json()["id"]
            http.post(f"/api/v1/contacts/{cid}/queue", json={"queue": "facturas"})
            cb = http.post(f"/api/v1/contacts/{cid}/callback", json={})
            assert cb.status_code == 201, cb.text
            ids.append(cb.json()["id"])
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert not list(settings.outbox_dir.glob("sms-callback_*.json"))

    # second life, with its worker: every confirmation goes out once, every callback is made
    proc = start_server(env, log)
    try:
        wait_ready(url, proc, log)
        _wait(lambda: len(list(settings.outbox_dir.glob("sms-callback_*.json"))) == 5)
        # killed again right after sending: nothing is sent twice after the next restart
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        proc = start_server(env, log)
        wait_ready(url, proc, log)
        with httpx.Client(base_url=url, headers=headers, timeout=10) as http:
            made = []
            for _ in ids:
                r = http.put(f"/api/v1/agents/{users['ana']}/state", json={"state": "available"})
                contact_id = r.json()["contact_id"]
                assert contact_id is not None, r.text
                made.append(contact_id)
                http.post(f"/api/v1/agent/contacts/{contact_id}", json={"action": "answer"})
                http.post(
                    f"/api/v1/agent/contacts/{contact_id}",
                    json={"action": "wrap_up", "recap": "Llamada devuelta.", "next_state": "break"},
                )

            # a send killed between the outbox file and its commit is finished by the new
            # worker once the dead one's lock lapses, and the outbox file is not written twice
            def all_sent() -> bool:
                session.expire_all()
                statuses = session.scalars(
                    select(Notification.status).where(Notification.callback_id.in_(ids))
                ).all()
                session.rollback()
                return sorted(statuses) == ["sent"] * 5

            _wait(all_sent, 60)
    finally:
        proc.terminate()
        proc.wait(10)
    session.expire_all()
    states = session.scalars(select(Callback.state).where(Callback.id.in_(ids))).all()
    assert states == ["completed"] * 5
    files = list(settings.outbox_dir.glob("sms-callback_*.json"))
    assert len(files) == 5
    assert {json.loads(f.read_text())["to"] for f in files} == {f"+3460011100{n}" for n in range(5)}
