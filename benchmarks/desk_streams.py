"""What open agent desks cost a server process, idle and as agents change (ADR 25).

Run: ``.venv/bin/python benchmarks/desk_streams.py [--desks 100] [--seconds 10]``. Starts
``escucha serve`` on a scratch SQLite file on a loopback port, signs ``--desks`` agents in and
holds their desks' live streams (``/agent/events``) open as browsers do. Then, from the
server's own CPU time (``/proc``): ``--seconds`` with nothing changing, and ``--seconds`` with
one agent changing state every half second through the API. Prints the CPU per second and per
open desk, the desks pushed, and the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import insert, select

from escucha.auth import service as auth_service
from escucha.auth.models import User
from escucha.config import Settings
from escucha.db import migrate
from escucha.db.engine import make_engine, make_sessionmaker
from escucha.org import service as org_service

NOW = datetime.now(UTC)
DEMO = Path(org_service.__file__).parent / "demo.yaml"
PASSWORD = "desk-benchmark-password"  # noqa: S105 - a scratch database's agents
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def cpu_s(pid: int) -> float:
    """The process's user and system CPU seconds so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


CHANGED = 10
"""Agents whose state the benchmark changes, in turn (each through its own token)."""


def prepare(url: str, desks: int) -> tuple[list[str], dict[int, str]]:
    """The demo organisation and ``desks`` agents who can sign in; tokens of a few of them."""
    engine = make_engine(Settings(database_url=url, secret_key="x" * 32))
    migrate.upgrade(engine)
    with make_sessionmaker(engine)() as session:
        org_service.apply_org(
            session, org_service.parse_org(DEMO.read_text(encoding="utf-8"), str(DEMO))[0], now=NOW
        )
        digest = auth_service.hash_password(PASSWORD)
        names = [f"desk{n}" for n in range(desks)]
        session.execute(
            insert(User),
            [
                {
                    "username": name,
                    "display_name": name,
                    "role": "agent",
                    "language": "es",
                    "password_hash": digest,
                    "active": True,
                    "session_epoch": 0,
                    "created_at": NOW,
                }
                for name in names
            ],
        )
        changed = session.scalars(select(User).where(User.username.in_(names[:CHANGED])))
        tokens = {u.id: auth_service.create_token(session, u, "bench", now=NOW) for u in changed}
        session.commit()
    engine.dispose()
    return names, tokens


def sign_in(base: str, name: str) -> str:
    with httpx.Client(base_url=base, timeout=60) as client:
        page = client.get("/login")
        match = CSRF.search(page.text)
        assert match is not None
        form = {"username": name, "password": PASSWORD, "csrf_token": match.group(1)}
        assert client.post("/login", data=form).status_code == 303
        return client.cookies["escucha_session"]


async def hold(base: str, cookie: str, pushed: list[int], index: int, ready: asyncio.Event) -> None:
    headers = {"accept": "text/event-stream", "cookie": f"escucha_session={cookie}"}
    async with (
        httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(60.0)) as client,
        client.stream("GET", "/agent/events", headers=headers) as r,
    ):
        async for chunk in r.aiter_text():
            pushed[index] += chunk.count("event: desk")
            if pushed[index]:
                ready.set()


async def measure(
    base: str, pid: int, cookies: list[str], tokens: dict[int, str], seconds: float
) -> None:
    pushed = [0] * len(cookies)
    readies = [asyncio.Event() for _ in cookies]
    tasks = [
        asyncio.create_task(hold(base, c, pushed, n, readies[n])) for n, c in enumerate(cookies)
    ]
    await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 120)
    await asyncio.sleep(2.0)
    before, drawn = cpu_s(pid), sum(pushed)
    await asyncio.sleep(seconds)
    idle = cpu_s(pid) - before
    idle_pushed = sum(pushed) - drawn
    ids = sorted(tokens)
    async with httpx.AsyncClient(base_url=base, timeout=30) as api:
        before, drawn = cpu_s(pid), sum(pushed)
        changes = 0
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            uid = ids[changes % len(ids)]
            state = "break" if (changes // len(ids)) % 2 == 0 else "offline"
            auth = {"Authorization": f"Bearer {tokens[uid]}"}
            await api.put(f"/api/v1/agents/{uid}/state", json={"state": state}, headers=auth)
            changes += 1
            await asyncio.sleep(0.5)
        await asyncio.sleep(1.0)
        busy = cpu_s(pid) - before
        busy_pushed = sum(pushed) - drawn
    for task in tasks:
        task.cancel()
    n = len(cookies)
    print(f"open desks: {n}")
    print(
        f"idle {seconds:.0f} s: server CPU {idle / seconds * 1000:.1f} ms/s "
        f"({idle / seconds / n * 1e6:.0f} us/s per desk), desks pushed {idle_pushed}"
    )
    print(
        f"{changes} agent changes in {seconds:.0f} s: server CPU {busy / seconds * 1000:.1f} ms/s,"
        f" desks pushed {busy_pushed}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--desks", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/desks.db"
        names, tokens = prepare(url, args.desks)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("ESCUCHA_")}
        env |= {
            "ESCUCHA_DATABASE_URL": url,
            "ESCUCHA_SECRET_KEY": "desk-benchmark-secret-key-0123456789abcdef",
            "ESCUCHA_PORT": str(port),
            "ESCUCHA_HOST": "127.0.0.1",
            "ESCUCHA_LOGIN_RATE_PER_MIN": "100000",
        }
        log = Path(tmp) / "server.log"
        with log.open("ab") as fh:
            server = subprocess.Popen(
                [sys.executable, "-m", "escucha", "serve", "--no-worker"],
                env=env,
                stdout=fh,
                stderr=fh,
            )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{base}/healthz", timeout=5).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            cookies = [sign_in(base, name) for name in names]
            asyncio.run(measure(base, server.pid, cookies, tokens, args.seconds))
        finally:
            server.terminate()
            server.wait(20)
    print("load average: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
