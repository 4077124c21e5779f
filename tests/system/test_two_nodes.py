"""Two server processes on PostgreSQL route the same floor; one is killed mid-load.

No contact is offered to two agents, no agent holds two contacts, and the surviving node goes
on routing at once (routing passes are serialised by a transaction-scoped advisory lock, so
there is no leader to wait for).
"""

from __future__ import annotations

import itertools
import random
import signal
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha.auth import service as auth_service
from escucha.config import Settings
from escucha.contacts.models import Contact, ContactEvent
from escucha.org.models import AgentProfile
from escucha.routing.models import RoutingDecision
from tests.conftest import PG_URL
from tests.factories import demo, make_user
from tests.system.conftest import free_port, server_env, start_server, wait_ready

pytestmark = [
    pytest.mark.system,
    pytest.mark.skipif(not PG_URL, reason="two nodes share a PostgreSQL database"),
]

AGENTS = 8
CALLERS = 60


def test_two_nodes_never_double_assign_and_survive_a_kill(
    settings: Settings, session: Session, tmp_path: Path
) -> None:
    demo(session)
    agent_tokens: dict[int, str] = {}
    for n in range(AGENTS):
        user = make_user(session, username=f"bot{n}", role="agent")
        session.add(AgentProfile(user_id=user.id, skills={"facturas": 2}, languages=["es"]))
        agent_tokens[user.id] = auth_service.create_token(
            session, user, "bot", now=datetime.now(UTC)
        )
    ana = auth_service.authenticate(session, "ana", "escucha-demo")
    caller_token = auth_service.create_token(session, ana, "ivr", now=datetime.now(UTC))
    session.commit()

    nodes = []
    for name in ("a", "b"):
        port = free_port()
        log = tmp_path / f"node-{name}.log"
        proc = start_server(server_env(settings, port), log, "--no-worker")
        nodes.append((f"http://127.0.0.1:{port}", proc, log))
    for url, proc, log in nodes:
        wait_ready(url, proc, log)
    alive = [True, True]
    stop = threading.Event()
    errors: list[str] = []

    def node_url(rng: random.Random) -> str:
        choices = [i for i in (0, 1) if alive[i]]
        return nodes[rng.choice(choices)][0]

    def callers() -> None:
        rng = random.Random(1)
        for n in range(CALLERS):
            url = node_url(rng)
            try:
                with httpx.Client(
                    base_url=url, timeout=10, headers={"Authorization": f"Bearer {caller_token}"}
                ) as http:
                    c = http.post("/api/v1/contacts", json={"phone": f"6002{n:05d}"})
                    http.post(
                        f"/api/v1/contacts/{c.json()['id']}/queue", json={"queue": "facturas"}
                    )
            except httpx.HTTPError:
                pass  # the node died under this request: the caller rings again elsewhere
            time.sleep(rng.uniform(0.0, 0.05))

    def bot(agent_id: int, token: str) -> None:
        rng = random.Random(agent_id)
        while not stop.is_set():
            url = node_url(rng)
            try:
                with httpx.Client(
                    base_url=url, timeout=10, headers={"Authorization": f"Bearer {token}"}
                ) as http:
                    # like a desktop after a reload: first see whether a contact is ours
                    cid = http.get("/api/v1/agents/me").json()["contact_id"]
                    if cid is None:
                        r = http.put(
                            f"/api/v1/agents/{agent_id}/state", json={"state": "available"}
                        )
                        cid = r.json().get("contact_id") if r.status_code == 200 else None
                    if cid is None:
                        time.sleep(0.05)
                        continue
                    state = http.get(f"/api/v1/contacts/{cid}").json()["state"]
                    actions = [{"action": "wrap_up", "recap": "ok", "next_state": "break"}]
                    if state == "offered":
                        actions.insert(0, {"action": "answer"})
                    for action in actions:
                        resp = http.post(f"/api/v1/agent/contacts/{cid}", json=action)
                        if resp.status_code >= 500:
                            errors.append(resp.text)
            except httpx.HTTPError:
                time.sleep(0.05)

    threads = [threading.Thread(target=callers)] + [
        threading.Thread(target=bot, args=(aid, tok)) for aid, tok in agent_tokens.items()
    ]
    for t in threads:
        t.start()
    time.sleep(1.5)
    nodes[0][1].send_signal(signal.SIGKILL)  # node a dies mid-load
    alive[0] = False
    nodes[0][1].wait(10)
    killed_wall = time.time()
    threads[0].join(60)
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline:
        session.expire_all()
        left = session.scalars(
            select(Contact.id).where(Contact.state.in_(("queued", "offered", "connected")))
        ).all()
        if not left:
            break
        time.sleep(0.3)
    stop.set()
    for t in threads[1:]:
        t.join(30)
    nodes[1][1].terminate()
    nodes[1][1].wait(10)
    assert errors == []

    session.expire_all()
    decisions = session.scalars(select(RoutingDecision).order_by(RoutingDecision.id)).all()
    assert len(decisions) >= CALLERS // 2
    by_contact: dict[int, int] = defaultdict(int)
    for d in decisions:
        by_contact[d.contact_id] += 1
    assert max(by_contact.values()) == 1  # no contact was given to two agents
    # An agent's next offer comes only after its previous contact was wrapped up.
    ends = {
        e.contact_id: e.at
        for e in session.scalars(select(ContactEvent).where(ContactEvent.event == "wrapped_up"))
    }
    per_agent: dict[int, list[RoutingDecision]] = defaultdict(list)
    for d in decisions:
        per_agent[d.agent_id].append(d)
    for offers in per_agent.values():
        for prev, nxt in itertools.pairwise(offers):
            assert prev.contact_id in ends
            assert ends[prev.contact_id] <= nxt.decided_at
    after_kill = [d for d in decisions if d.decided_at.timestamp() > killed_wall]
    assert after_kill, "the surviving node routed nothing after the kill"
    # no leader to wait for: the survivor's next assignment follows within seconds
    takeover_s = min(d.decided_at.timestamp() for d in after_kill) - killed_wall
    assert takeover_s < 10, f"the first assignment after the kill took {takeover_s:.1f} s"
    waiting = session.scalars(select(Contact).where(Contact.state.in_(("queued", "offered")))).all()
    assert waiting == []
