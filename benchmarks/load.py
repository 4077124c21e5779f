"""Loopback load: concurrent Twilio calls and bot agents against a real escucha server.

Run: ``.venv/bin/python benchmarks/load.py`` (about 90 s). It migrates a fresh SQLite database
in a temporary folder (or the empty PostgreSQL database of ``--database-url``), loads the demo
organisation, adds bot agents with API tokens, starts ``escucha serve`` on 127.0.0.1 with its
worker, and then for ``--duration`` seconds keeps ``--calls`` simulated calls going at once.

Each call is driven through the Twilio voice webhooks with valid ``X-Twilio-Signature``s, the
way Twilio would: ``/voice`` (greeting and menu), ``/gather`` (key 2, bills), the ``/wait`` loop
until the answer is a ``<Dial>`` to an agent, ``/agent`` (the agent's leg answered), a talk
time, ``/dialed`` and ``/status`` (completed); then the next call starts. The wait loop keeps
the silence the TwiML asks for (``<Pause length>``). The script also stands in for Twilio's
REST API on loopback: escucha, given REST credentials, redirects a waiting call there when an
agent is chosen, and the call fetches ``/wait`` at once (``--poll`` runs without credentials:
the line then comes back every 2 s). Bot agents act through the API (``/agents/me``,
``PUT /agents/{id}/state``, ``GET /contacts/{id}``, wrap-up). At the end waiting callers hang up.

``--desks N`` also opens N agent desks the way a browser holds one: agents signed in with a
server-side session and its cookie, each loads ``/agent`` once, keeps the page's two live
streams open (``/agent/events`` and ``/agent/voice/events``, server-sent events) and posts the
page's beat (``/agent/voice/beat``) once, when it opens: the open softphone stream keeps the
desk alive on the server (ADR 16). ``--beat S`` also beats every S seconds, as the page did
before (2 s).

The desks open (at most 120 s) before the calls start and the run is measured; their opening
is reported apart (``--open-with-calls``: they open as the calls start, inside the run).

``--servers N`` starts N server processes on the same database (the first with the job
worker) and sends each request to the next in turn; each desk stays on one of them.

Printed: per endpoint class the requests, errors (HTTP >= 400, no answer, a live stream
dropped), throughput and p50/p95/p99 latency; the errors by kind (``http <status>``,
``timeout``, ``connection reset``, ``connection refused``, ``stream dropped``) and endpoint;
the calls completed, the servers' own CPU time (from ``/proc``) per request, the load
generator's own CPU time and the machine's load average. ``--json``: the last line printed is
one JSON object with these figures. Only loopback addresses are ever targeted; every loop is
bounded in count and time and the servers are stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import itertools
import json
import os
import random
import re
import secrets
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from fastapi import FastAPI, Request
from itsdangerous import TimestampSigner
from twilio.request_validator import RequestValidator

HOST = "127.0.0.1"
TWILIO_TOKEN = "load-benchmark-twilio-auth-token"  # noqa: S105 - a test value
TWILIO_ACCOUNT = "AC" + "0" * 32
WAIT_LOOP_S = 2.0  # the silence when the TwiML names none
PAUSE = re.compile(r'<Pause length="(\d+)"')
GRACE_S = 30.0
BEAT_S = 0.0  # the desk page beats once when it opens; its stream keeps it alive
DROPPED = "stream dropped"
OPENING_S = 120.0  # the desks' opening before the run, at most
PAGE_TRIES = 10  # a desk turned away at the door reloads its page this often at most
WEBHOOKS = ("voice", "gather", "wait", "agent leg", "status")
CLASSES = (*WEBHOOKS, "agent api", "desk")


@dataclass
class Stats:
    latencies_s: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    why: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    #: kind of error -> endpoint -> count
    kinds: dict[str, dict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int))
    )
    #: the seconds into the run of each error (to see whether they come in bursts)
    error_at_s: list[float] = field(default_factory=list)
    started_at: float = field(default_factory=time.monotonic)
    calls_done: int = 0
    calls_started: int = 0
    waits_s: list[float] = field(default_factory=list)
    redirects: int = 0
    desk_events: int = 0

    def record(
        self, cls: str, elapsed_s: float, ok: bool, why: str = "", kind: str = "", where: str = ""
    ) -> None:
        self.latencies_s[cls].append(elapsed_s)
        if not ok:
            self.failed(cls, why, kind, where)

    def failed(self, cls: str, why: str, kind: str, where: str) -> None:
        """An error that is not a request's answer (e.g. a live stream dropped)."""
        self.errors[cls] += 1
        self.why[f"{cls}: {why}"] += 1
        self.kinds[kind or "other"][where or cls] += 1
        self.error_at_s.append(time.monotonic() - self.started_at)


def error_kind(exc: BaseException) -> str:
    """What went wrong on the wire: a timeout, a connection reset, a refused connection."""
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, httpx.ConnectError):
        return "connection refused"
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return "connection reset"
    return type(exc).__name__


def endpoint(method: str, path: str) -> str:
    """``GET /api/v1/contacts/{id}``: the endpoint of a request, ids and query left out."""
    return f"{method} " + re.sub(r"/\d+", "/{id}", path.split("?")[0])


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def always_open(demo_yaml: str) -> str:
    """The demo organisation open round the clock (the daytime menu, queues that route), so a
    run measures the same path whatever the hour or the day."""
    text = re.sub(r'\["\d\d:\d\d-\d\d:\d\d"\]', '["00:00-24:00"]', demo_yaml)
    text = re.sub(
        r'^(\s+)sat: (\["00:00-24:00"\])\n(?!\1sun:)', r"\1sat: \2\n\1sun: \2\n", text, flags=re.M
    )
    text = re.sub(r"^\s+(closures|closed_dates):.*\n(\s+- \{date:.*\n)*", "", text, flags=re.M)
    return re.sub(r"^\s+holidays: .*\n", "", text, flags=re.M)


@dataclass
class Prepared:
    tokens: dict[int, str]  # the bots' API tokens by user id
    desks: list[dict[str, object]]  # the desks' session contents (what the login stores)


def prepare(database_url: str, agents: int, desks: int) -> Prepared:
    """Migrate, load the demo organisation, add bot agents with API tokens and desk agents
    with an open server-side session each."""
    from escucha.auth import service as auth_service
    from escucha.auth.models import User
    from escucha.db import migrate
    from escucha.db.engine import make_engine, make_sessionmaker
    from escucha.org import service as org_service
    from escucha.org.models import AgentProfile

    now = datetime.now(UTC)
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    run = secrets.token_hex(3)
    tokens: dict[int, str] = {}
    with make_sessionmaker(engine)() as session:
        demo = (Path(org_service.__file__).parent / "demo.yaml").read_text(encoding="utf-8")
        org, _doc = org_service.parse_org(always_open(demo), "demo-always-open.yaml")
        org_service.apply_org(session, org, now=now)

        def agent(name: str, display_name: str) -> User:
            user = auth_service.create_user(
                session, username=name, display_name=display_name, role="agent", now=now
            )
            session.add(AgentProfile(user_id=user.id, skills={"facturas": 2}, languages=["es"]))
            return user

        for n in range(agents):
            user = agent(f"loadbot-{run}-{n}", f"Bot {n}")
            tokens[user.id] = auth_service.create_token(session, user, "load", now=now)
        sessions: list[dict[str, object]] = []
        for n in range(desks):
            user = agent(f"loaddesk-{run}-{n}", f"Desk {n}")
            sid = auth_service.start_session(
                session, user, now=now, address=HOST, user_agent="load benchmark desk"
            )
            csrf = secrets.token_urlsafe(24)
            sessions.append({"uid": user.id, "sid": sid, "csrf": csrf, "lang": "es"})
        session.commit()
    engine.dispose()
    return Prepared(tokens, sessions)


def session_cookie(secret_key: str, content: dict[str, object]) -> str:
    """The signed cookie escucha's session middleware sets at login for ``content``."""
    data = base64.b64encode(json.dumps(content).encode())
    return TimestampSigner(secret_key).sign(data).decode()


def start_server(
    database_url: str, port: int, folder: Path, api_url: str, secret_key: str, worker: bool = True
) -> subprocess.Popen[bytes]:
    """``escucha serve`` on ``port`` (``worker``: with the job worker; one per database)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESCUCHA_")}
    env.update(
        {
            "ESCUCHA_DATABASE_URL": database_url,
            "ESCUCHA_SECRET_KEY": secret_key,
            "ESCUCHA_ENVIRONMENT": "development",
            "ESCUCHA_HOST": HOST,
            "ESCUCHA_PORT": str(port),
            "ESCUCHA_BASE_URL": f"http://{HOST}:{port}",
            "ESCUCHA_TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
            "ESCUCHA_OUTBOX_DIR": str(folder / "outbox"),
        }
    )
    if api_url:  # REST credentials: waiting calls are redirected (SMS too go to the stand-in)
        env["ESCUCHA_TWILIO_ACCOUNT_SID"] = TWILIO_ACCOUNT
        env["ESCUCHA_TWILIO_API_URL"] = api_url
    log = (folder / "server.log").open("ab")
    command = [sys.executable, "-m", "escucha", "serve"] + ([] if worker else ["--no-worker"])
    return subprocess.Popen(command, env=env, stdout=log, stderr=log)


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the server exited; see server.log")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("the server did not start in time")


class Load:
    """The calls, bots and desks; with several servers, each request goes to the next one in
    turn (round-robin, as a load balancer in front of them would) and each desk stays on one."""

    def __init__(self, urls: list[str], stats: Stats, end_at: float, rng: random.Random) -> None:
        self.urls = urls
        self.stats = stats
        self.end_at = end_at
        self.rng = rng
        self.validator = RequestValidator(TWILIO_TOKEN)
        self.woken: dict[str, asyncio.Event] = {}
        self.woken_url: dict[str, str] = {}
        self.turn = itertools.count()
        self.beat_s = BEAT_S
        self.streams_open = 0
        self.clients = [
            httpx.AsyncClient(
                base_url=url,
                timeout=30,
                limits=httpx.Limits(max_connections=400, max_keepalive_connections=400),
            )
            for url in urls
        ]

    def pick(self) -> int:
        """The server the next request goes to."""
        return next(self.turn) % len(self.urls)

    async def timed(
        self, cls: str, method: str, path: str, server: int | None = None, **kw: Any
    ) -> httpx.Response | None:
        http = self.clients[self.pick() if server is None else server]
        return await self.send(http, cls, method, path, **kw)

    async def send(
        self, http: httpx.AsyncClient, cls: str, method: str, path: str, **kw: Any
    ) -> httpx.Response | None:
        """One request, its time and, when it fails, the error's kind and endpoint."""
        where = endpoint(method, path)
        t0 = time.perf_counter()
        try:
            r = await http.request(method, path, **kw)
        except httpx.HTTPError as exc:
            kind = error_kind(exc)
            why = f"{where} -> {kind} ({type(exc).__name__})"
            self.stats.record(cls, time.perf_counter() - t0, False, why, kind, where)
            return None
        ok = r.status_code < 400
        said = re.sub(r"\d+", "N", r.text[:80])
        why = "" if ok else f"{where} -> {r.status_code} {said}"
        self.stats.record(cls, time.perf_counter() - t0, ok, why, f"http {r.status_code}", where)
        return r

    async def twilio(self, cls: str, path: str, body: dict[str, str]) -> str:
        server = self.pick()
        signature = self.validator.compute_signature(self.urls[server] + path, body)
        r = await self.timed(
            cls, "POST", path, server, data=body, headers={"X-Twilio-Signature": signature}
        )
        return r.text if r is not None and r.status_code == 200 else ""

    async def call(self, sid: str, number: str, talk_mean_s: float) -> None:
        base = {"CallSid": sid, "From": number, "To": "+34910000000", "AccountSid": "AC0"}
        self.stats.calls_started += 1
        await self.twilio("voice", "/telephony/twilio/voice", {**base, "CallStatus": "ringing"})
        body = {**base, "CallStatus": "in-progress"}
        twiml = await self.twilio("gather", "/telephony/twilio/gather?n=1", {**body, "Digits": "2"})
        queued_at = time.monotonic()
        while "<Dial" not in twiml:
            if time.monotonic() > self.end_at or "<Hangup" in twiml:
                await self.twilio(
                    "status", "/telephony/twilio/status", {**body, "CallStatus": "completed"}
                )
                return
            pause = PAUSE.search(twiml)
            woken = self.woken.setdefault(sid, asyncio.Event())
            with contextlib.suppress(TimeoutError):
                silence_s = float(pause.group(1)) if pause else WAIT_LOOP_S
                await asyncio.wait_for(woken.wait(), min(silence_s, self.end_at - time.monotonic()))
            woken.clear()
            path = self.woken_url.pop(sid, "/telephony/twilio/wait")
            twiml = await self.twilio("wait", path, body)
        self.woken.pop(sid, None)
        self.stats.waits_s.append(time.monotonic() - queued_at)
        leg = {**body, "CallSid": sid + "L", "ParentCallSid": sid, "CallStatus": "in-progress"}
        await self.twilio("agent leg", "/telephony/twilio/agent", leg)
        await asyncio.sleep(self.rng.expovariate(1 / talk_mean_s))
        await self.twilio(
            "agent leg", "/telephony/twilio/dialed", {**body, "DialCallStatus": "completed"}
        )
        await self.twilio("status", "/telephony/twilio/status", {**body, "CallStatus": "completed"})
        self.stats.calls_done += 1

    async def caller_slot(self, slot: int, talk_mean_s: float) -> None:
        """One line: a call, then the next, until the end."""
        n = 0
        await asyncio.sleep(self.rng.uniform(0, 5))  # do not all ring in the same instant
        while time.monotonic() < self.end_at:
            n += 1
            number = f"+346{self.rng.randrange(10**7, 10**8)}"
            await self.call(f"CA{slot:05d}{n:06d}", number, talk_mean_s)

    async def bot(self, user_id: int, token: str, stop: asyncio.Event) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        while not stop.is_set():
            r = await self.timed("agent api", "GET", "/api/v1/agents/me", headers=headers)
            me = r.json() if r is not None and r.status_code == 200 else None
            if me is None:
                await asyncio.sleep(0.5)
                continue
            cid = me["contact_id"]
            if cid is None and me["state"] != "available":
                await self.timed(
                    "agent api",
                    "PUT",
                    f"/api/v1/agents/{user_id}/state",
                    json={"state": "available"},
                    headers=headers,
                )
                continue
            if cid is not None:
                c = await self.timed("agent api", "GET", f"/api/v1/contacts/{cid}", headers=headers)
                if c is not None and c.status_code == 200 and c.json()["state"] == "wrap_up":
                    await self.timed(
                        "agent api",
                        "POST",
                        f"/api/v1/agent/contacts/{cid}",
                        json={"action": "wrap_up", "recap": "ok", "next_state": "available"},
                        headers=headers,
                    )
                    continue
            await asyncio.sleep(0.5)

    async def desk(self, n: int, cookie: str, csrf: str, stop: asyncio.Event) -> None:
        """One agent desk held open the way a browser holds it (see the module)."""
        jar = {"escucha_session": cookie}
        url = self.urls[n % len(self.urls)]
        async with httpx.AsyncClient(base_url=url, timeout=30, cookies=jar) as http:
            for _ in range(PAGE_TRIES):  # turned away (503): the agent reloads, as told
                page = await self.send(http, "desk", "GET", "/agent")
                if page is not None and page.status_code == 200:
                    break
                if stop.is_set() or page is None or page.status_code != 503:
                    return
                after = page.headers.get("retry-after", "")
                await asyncio.sleep(float(after) if after.isdigit() else BEAT_S)
            else:
                return
            streams = [
                asyncio.create_task(self.stream(http, path, stop))
                for path in ("/agent/events", "/agent/voice/events")
            ]
            beat = {"json": {"mic_ok": True}, "headers": {"X-CSRF-Token": csrf}}
            await self.send(http, "desk", "POST", "/agent/voice/beat", **beat)  # the mic test
            if self.beat_s:
                await asyncio.sleep(self.rng.uniform(0, self.beat_s))
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):  # 0: the streams alone keep it alive
                    await asyncio.wait_for(stop.wait(), self.beat_s or None)
                if self.beat_s and not stop.is_set():
                    await self.send(http, "desk", "POST", "/agent/voice/beat", **beat)
            for task in streams:
                task.cancel()
            await asyncio.gather(*streams, return_exceptions=True)

    async def stream(self, http: httpx.AsyncClient, path: str, stop: asyncio.Event) -> None:
        """A live stream held open (reopened if it ends, as EventSource does, after its
        ``retry``). A stream that ends before the run does, by the server's hand or the
        connection's, counts as an error of its own kind: ``stream dropped``."""
        headers = {"Accept": "text/event-stream"}
        where = endpoint("GET", path)
        while not stop.is_set():
            t0 = time.perf_counter()
            opened = False
            try:
                async with http.stream("GET", path, headers=headers, timeout=None) as r:
                    ok = r.status_code == 200
                    why = f"{where} -> {r.status_code}"
                    kind = f"http {r.status_code}"
                    self.stats.record("desk", time.perf_counter() - t0, ok, why, kind, where)
                    if not ok:
                        await asyncio.sleep(1)
                        continue
                    opened = True
                    self.streams_open += 1
                    try:
                        async for line in r.aiter_lines():
                            if line.startswith("event:"):
                                self.stats.desk_events += 1
                    finally:
                        self.streams_open -= 1
                if not stop.is_set():
                    self.stats.failed("desk", f"{where} -> ended by the server", DROPPED, where)
            except httpx.HTTPError as exc:
                if opened:
                    why = f"{where} -> {type(exc).__name__} while open"
                    self.stats.failed("desk", why, DROPPED, where)
                else:
                    kind = error_kind(exc)
                    why = f"{where} -> {kind} ({type(exc).__name__})"
                    self.stats.record("desk", time.perf_counter() - t0, False, why, kind, where)
            await asyncio.sleep(1)


def twilio_api(load: Load, port: int) -> Any:
    """Twilio's REST API as far as escucha uses it here: redirecting a live call wakes it;
    an SMS is taken. Served on loopback inside this process."""
    import uvicorn

    app = FastAPI()

    @app.post("/2010-04-01/Accounts/{account}/Calls/{name}")
    async def redirect(account: str, name: str, request: Request) -> dict[str, str]:
        sid = name.removesuffix(".json")
        url = str((await request.form()).get("Url", ""))
        load.stats.redirects += 1
        event = load.woken.get(sid)
        base = next((u for u in load.urls if url.startswith(u)), None)
        if event is not None and base is not None:
            load.woken_url[sid] = url.removeprefix(base)
            event.set()
        return {"sid": sid, "account_sid": account, "status": "in-progress"}

    @app.post("/2010-04-01/Accounts/{account}/Messages.json")
    def sms(account: str) -> dict[str, str]:
        return {"sid": "SM" + secrets.token_hex(16), "account_sid": account, "status": "queued"}

    return uvicorn.Server(uvicorn.Config(app, host=HOST, port=port, log_level="warning"))


@dataclass
class Run:
    elapsed_s: float
    server_cpu_s: list[float]  # each server process's
    client_cpu_s: float  # this process's: the load generator and the REST stand-in
    opening: Stats | None = None  # the desks opening before the run (None: opened in it)
    opening_s: float = 0.0


def cpu_seconds(pid: int) -> float:
    """The process's user + system CPU time so far, from ``/proc/<pid>/stat``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def drive(
    prepared: Prepared,
    args: argparse.Namespace,
    stats: Stats,
    api_port: int,
    server_pids: list[int],
    urls: list[str],
) -> Run:
    rng = random.Random(args.seed)
    load = Load(urls, stats, time.monotonic() + args.duration, rng)
    load.beat_s = args.beat
    api = twilio_api(load, api_port)
    api_task = asyncio.create_task(api.serve())
    stop = asyncio.Event()
    cookies = [session_cookie(args.secret_key, d) for d in prepared.desks]
    desks = [
        asyncio.create_task(load.desk(n, cookie, str(d["csrf"]), stop))
        for n, (cookie, d) in enumerate(zip(cookies, prepared.desks, strict=True))
    ]
    opening, opened_at = None, time.monotonic()
    if desks and not args.open_with_calls:  # browsers open before the calls come
        opening = load.stats = Stats()
        deadline = opened_at + OPENING_S
        while load.streams_open < 2 * len(desks) and time.monotonic() < deadline:
            if all(task.done() for task in desks):
                break
            await asyncio.sleep(0.2)
        load.stats = stats
    opening_s = time.monotonic() - opened_at
    cpu0 = [cpu_seconds(pid) for pid in server_pids]
    client0 = time.process_time()
    start = stats.started_at = time.monotonic()
    load.end_at = start + args.duration
    bots = [asyncio.create_task(load.bot(uid, tok, stop)) for uid, tok in prepared.tokens.items()]
    callers = [asyncio.create_task(load.caller_slot(i, args.talk)) for i in range(args.calls)]
    _done, pending = await asyncio.wait(callers, timeout=args.duration + GRACE_S)
    for task in pending:
        task.cancel()
    elapsed = time.monotonic() - start
    cpu = [cpu_seconds(pid) - c0 for pid, c0 in zip(server_pids, cpu0, strict=True)]
    client = time.process_time() - client0
    stop.set()
    await asyncio.gather(*bots, *desks, *pending, return_exceptions=True)
    for http in load.clients:
        await http.aclose()
    api.should_exit = True
    await api_task
    return Run(elapsed, cpu, client, opening, opening_s)


def table(stats: Stats, elapsed_s: float) -> str:
    rows = [("endpoint class", "requests", "errors", "req/s", "p50 ms", "p95 ms", "p99 ms")]
    everything: list[float] = []
    for cls in CLASSES:
        lat = stats.latencies_s.get(cls, [])
        everything += lat
        rows.append(_row(cls, lat, stats.errors.get(cls, 0), elapsed_s))
    rows.append(_row("all", everything, sum(stats.errors.values()), elapsed_s))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    ]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def _row(name: str, lat: list[float], errors: int, elapsed_s: float) -> tuple[str, ...]:
    if not lat:
        return (name, "0", str(errors), "0", "-", "-", "-")
    ms = np.asarray(lat) * 1000
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    return (
        name,
        str(len(lat)),
        str(errors),
        f"{len(lat) / elapsed_s:.1f}",
        f"{p50:.1f}",
        f"{p95:.1f}",
        f"{p99:.1f}",
    )


def error_lines(stats: Stats, elapsed_s: float) -> list[str]:
    """The errors by kind and endpoint, each message once, and when in the run they came."""
    lines = []
    for kind, where in sorted(stats.kinds.items(), key=lambda kv: -sum(kv[1].values())):
        lines.append(f"  {kind}: {sum(where.values())}")
        lines += [f"    {n:6d}  {e}" for e, n in sorted(where.items(), key=lambda kv: -kv[1])]
    for why, count in sorted(stats.why.items(), key=lambda kv: -kv[1]):
        lines.append(f"  error x{count}: {why}")
    if stats.error_at_s:
        step = 10
        counts = np.bincount(np.asarray(stats.error_at_s, int) // step)
        lines.append(f"  errors per {step} s of the run: " + " ".join(str(int(c)) for c in counts))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=200, help="concurrent calls (max 1000)")
    parser.add_argument("--agents", type=int, default=40, help="bot agents (max 200)")
    parser.add_argument("--desks", type=int, default=0, help="open agent desks (max 1000)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds (max 600)")
    parser.add_argument("--talk", type=float, default=4.0, help="mean talk time, seconds")
    parser.add_argument(
        "--beat",
        type=float,
        default=BEAT_S,
        help="a desk's beat every S seconds as well (0: once when it opens, as the page; "
        "2: as the page beat before its stream kept it alive)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--port", type=int, default=0, help="the first server's port (default: a free one)"
    )
    parser.add_argument(
        "--servers",
        type=int,
        default=1,
        help="server processes on the same database, requests spread round-robin (max 8)",
    )
    parser.add_argument("--database-url", default="", help="an empty PostgreSQL database")
    parser.add_argument("--server-log", type=Path, help="keep the servers' log here")
    parser.add_argument(
        "--poll", action="store_true", help="no REST credentials: waiting lines poll every 2 s"
    )
    parser.add_argument(
        "--open-with-calls",
        action="store_true",
        help="open the desks as the calls start (a shift's start), not before the run",
    )
    parser.add_argument(
        "--json", action="store_true", help="end with one line of JSON holding the figures"
    )
    args = parser.parse_args()
    args.calls = min(max(args.calls, 1), 1000)
    args.agents = min(max(args.agents, 1), 200)
    args.desks = min(max(args.desks, 0), 1000)
    args.duration = min(max(args.duration, 5.0), 600.0)
    args.servers = min(max(args.servers, 1), 8)
    args.beat = 0.0 if args.beat <= 0 else min(max(args.beat, 0.5), 600.0)
    args.secret_key = secrets.token_urlsafe(32)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="escucha-load-") as tmp:
        folder = Path(tmp)
        url_db = args.database_url or f"sqlite:///{folder / 'load.db'}"
        kind = "PostgreSQL" if args.database_url else "SQLite"
        print(
            f"preparing {kind}: the demo organisation, always open, {args.agents} bots "
            f"and {args.desks} desks"
        )
        prepared = prepare(url_db, args.agents, args.desks)
        ports = [args.port or free_port()]
        while len(ports) < args.servers:
            ports.append(ports[0] + len(ports) if args.port else free_port())
        api_port = free_port()
        urls = [f"http://{HOST}:{port}" for port in ports]
        api_url = "" if args.poll else f"http://{HOST}:{api_port}"
        procs: list[subprocess.Popen[bytes]] = []
        try:
            for n, port in enumerate(ports):  # the first runs the job worker
                procs.append(
                    start_server(url_db, port, folder, api_url, args.secret_key, worker=n == 0)
                )
            for url, proc in zip(urls, procs, strict=True):
                wait_ready(url, proc)
            how = "polling every 2 s" if args.poll else "woken through the REST stand-in"
            pids = [p.pid for p in procs]
            print(
                f"driving {args.calls} concurrent calls and {args.desks} open desks "
                f"for {args.duration:.0f} s at {' '.join(urls)} (server pids {pids})"
            )
            print(f"waiting lines: {how}")
            stats = Stats()
            run = asyncio.run(drive(prepared, args, stats, api_port, pids, urls))
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
            if args.server_log:
                args.server_log.write_bytes((folder / "server.log").read_bytes())
    load_after = os.getloadavg()
    elapsed = run.elapsed_s
    server_cpu_s = sum(run.server_cpu_s)
    print()
    print(table(stats, elapsed))
    for line in error_lines(stats, elapsed):
        print(line)
    waits = np.asarray(stats.waits_s) if stats.waits_s else np.zeros(1)
    requests = sum(len(v) for v in stats.latencies_s.values())
    hooks = np.concatenate([np.asarray(stats.latencies_s.get(c, []), float) for c in WEBHOOKS])
    p50, p99 = np.percentile(hooks, [50, 99]) if len(hooks) else (float("nan"),) * 2
    cpu_ms = 1000 * server_cpu_s / max(requests, 1)
    print()
    print(
        f"calls: {stats.calls_started} started, {stats.calls_done} completed in {elapsed:.0f} s "
        f"({stats.calls_done / elapsed:.2f}/s); wait until an agent: "
        f"median {np.median(waits):.1f} s, p95 {np.percentile(waits, 95):.1f} s; "
        f"{args.agents} bot agents, mean talk {args.talk} s; "
        f"{stats.redirects} calls redirected through the REST stand-in"
    )
    print(
        f"webhooks: p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms; "
        f"{args.desks} desks, {stats.desk_events} live events received"
    )
    opening = run.opening
    if opening is not None:
        print(
            f"desks opened before the run in {run.opening_s:.1f} s "
            f"({sum(opening.errors.values())} errors meanwhile, not counted above)"
        )
        for line in error_lines(opening, run.opening_s):
            print(line)
    each = ""
    if len(run.server_cpu_s) > 1:
        each = " (" + " + ".join(f"{c:.1f}" for c in run.server_cpu_s) + ")"
    print(
        f"server: {server_cpu_s:.1f} CPU-s{each} for {requests} requests = {cpu_ms:.2f} ms "
        f"per request ({requests / elapsed:.1f} requests/s); "
        f"load generator: {run.client_cpu_s:.1f} CPU-s"
    )
    print(
        "load average (1, 5, 15 min): before "
        + " ".join(f"{x:.2f}" for x in load_before)
        + ", after "
        + " ".join(f"{x:.2f}" for x in load_after)
        + f" on {os.cpu_count()} cores"
    )
    if args.json:
        figures = {
            "database": kind,
            "calls": args.calls,
            "agents": args.agents,
            "desks": args.desks,
            "desk_beat_s": args.beat,
            "servers": args.servers,
            "duration_s": round(elapsed, 1),
            "webhook_p50_s": round(float(p50), 4),
            "webhook_p99_s": round(float(p99), 4),
            "errors": sum(stats.errors.values()),
            "errors_by_kind": {k: dict(v) for k, v in stats.kinds.items()},
            "requests": requests,
            "requests_per_s": round(requests / elapsed, 1),
            "server_cpu_s": round(server_cpu_s, 2),
            "server_cpu_s_each": [round(c, 2) for c in run.server_cpu_s],
            "server_cpu_ms_per_request": round(cpu_ms, 3),
            "client_cpu_s": round(run.client_cpu_s, 2),
            "calls_started": stats.calls_started,
            "calls_completed": stats.calls_done,
            "desk_events": stats.desk_events,
            "desks_opened_s": round(run.opening_s, 1) if opening is not None else None,
            "opening_errors": sum(opening.errors.values()) if opening is not None else None,
            "opening_errors_by_kind": (
                {k: dict(v) for k, v in opening.kinds.items()} if opening is not None else None
            ),
            "load_average": [round(x, 2) for x in load_after],
            "load_average_before": [round(x, 2) for x in load_before],
            "cores": os.cpu_count(),
        }
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
