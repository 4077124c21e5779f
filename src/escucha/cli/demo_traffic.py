"""``escucha demo-traffic``: simulated callers and bot agents for a running demo server.

A bounded loopback client of the HTTP API. Callers arrive as a Poisson process, walk a short
IVR path, join a queue, hear estimates every 30 s, and leave after an exponential patience,
some of them taking a callback that keeps their place. Bot agents (one per agent token) go
available, answer what they are offered, talk for an exponential handle time, wrap up and go
available again, so the wallboard and the queues move. Only ``127.0.0.1``/``localhost`` are
accepted as targets.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import typer

if TYPE_CHECKING:
    import numpy as np

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
MAX_WAITING = 500
MAX_CALLS_PER_HOUR = 36000.0
ESTIMATE_EVERY_S = 30.0
CHECK_EVERY_S = 1.0
TICK_S = 0.2
#: IVR keys of the demo organisation's menu, to store a plausible path on simulated calls.
DEMO_KEYS = {"averias": "1", "facturas": "2", "reclamaciones": "5"}
#: Relative arrival weights of the demo queues (others weigh 1).
DEMO_WEIGHTS = {"facturas": 6.0, "averias": 3.0, "reclamaciones": 1.0}


class TrafficError(Exception):
    """The run cannot go on (bad target, server gone, refused token)."""


def check_target(url: str) -> str:
    """The base URL without a trailing slash, if it is a loopback HTTP(S) address."""
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise TrafficError(f"--url: {url!r} is not an http(s) URL")
    if parsed.hostname not in LOOPBACK:
        raise TrafficError(
            f"--url: {parsed.hostname!r} is not this machine; demo traffic only goes to "
            "127.0.0.1 or localhost"
        )
    return url.rstrip("/")


@dataclass
class Waiting:
    contact_id: int
    queue: str
    leaves_at: float
    next_estimate_at: float
    next_check_at: float
    offered_callback: bool = False


@dataclass
class Bot:
    token: str
    user_id: int
    username: str
    contact_id: int | None = None
    phase: str = "idle"  # idle, talking, wrapping
    until: float = 0.0


@dataclass
class Tally:
    placed: int = 0
    answered: int = 0
    abandoned: int = 0
    callbacks: int = 0
    estimates: int = 0
    wrapped: int = 0
    conflicts: int = 0
    by_queue: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "placed": self.placed,
            "answered_by_bots": self.answered,
            "abandoned": self.abandoned,
            "callbacks": self.callbacks,
            "estimates": self.estimates,
            "wrapped_up": self.wrapped,
            "conflicts": self.conflicts,
            "by_queue": dict(sorted(self.by_queue.items())),
        }


class Api:
    """The few API calls the simulation makes, with one token each."""

    def __init__(self, base: str, timeout_s: float = 10.0) -> None:
        import httpx

        self.base = base
        self.http = httpx.Client(base_url=base, timeout=timeout_s)

    def close(self) -> None:
        self.http.close()

    def call(
        self, method: str, path: str, token: str, body: dict[str, Any] | None = None
    ) -> tuple[int, Any]:
        import httpx

        try:
            r = self.http.request(
                method, path, json=body, headers={"Authorization": f"Bearer {token}"}
            )
        except httpx.HTTPError as exc:
            raise TrafficError(
                f"{self.base} does not answer ({exc}); is `escucha serve` running?"
            ) from exc
        if r.status_code == 401:
            raise TrafficError(f"{path}: the token was refused (401)")
        try:
            data = r.json()
        except ValueError:
            data = None
        return r.status_code, data


class DemoTraffic:
    """The simulation; ``clock`` and ``sleep`` are injectable, ``rng`` seeds everything."""

    def __init__(
        self,
        api: Api,
        *,
        token: str,
        bots: list[Bot],
        queues: list[str],
        rng: np.random.Generator,
        calls_per_hour: float,
        aht_s: float,
        patience_s: float,
        wrap_s: float,
        callback_share: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        log: Callable[[str], None] = lambda _line: None,
    ) -> None:
        import numpy as np

        self.api = api
        self.token = token
        self.bots = bots
        self.queues = queues
        weights = np.array([DEMO_WEIGHTS.get(q, 1.0) for q in queues], dtype=float)
        self.weights = weights / weights.sum()
        self.rng = rng
        self.calls_per_hour = calls_per_hour
        self.aht_s = aht_s
        self.patience_s = patience_s
        self.wrap_s = wrap_s
        self.callback_share = callback_share
        self.clock = clock
        self.sleep = sleep
        self.log = log
        self.waiting: list[Waiting] = []
        self.tally = Tally()

    # --- callers ------------------------------------------------------------------------

    def _gap_s(self) -> float:
        if self.calls_per_hour <= 0:
            return float("inf")
        return float(self.rng.exponential(3600.0 / self.calls_per_hour))

    def place_call(self, now: float) -> None:
        if len(self.waiting) >= MAX_WAITING:
            return
        queue = str(self.rng.choice(self.queues, p=self.weights))
        phone = "6" + "".join(str(d) for d in self.rng.integers(0, 10, size=8))
        language = "en" if self.rng.random() < 0.15 else "es"
        status, data = self.api.call(
            "POST",
            "/api/v1/contacts",
            self.token,
            {
                "channel": "voice",
                "phone": phone,
                "language": language,
                "provider_ref": f"demo-{uuid.uuid4().hex[:16]}",
            },
        )
        if status != 201:
            self.tally.conflicts += 1
            return
        cid = int(data["id"])
        self.tally.placed += 1
        self.tally.by_queue[queue] = self.tally.by_queue.get(queue, 0) + 1
        key = DEMO_KEYS.get(queue, "0")
        self.api.call(
            "POST", f"/api/v1/contacts/{cid}/ivr", self.token, {"node": "main", "key": key}
        )
        status, data = self.api.call(
            "POST", f"/api/v1/contacts/{cid}/queue", self.token, {"queue": queue}
        )
        if status != 200:
            self.tally.conflicts += 1
            return
        if "position" in data:
            self.tally.estimates += 1
            self.waiting.append(
                Waiting(
                    contact_id=cid,
                    queue=queue,
                    leaves_at=now + float(self.rng.exponential(self.patience_s)),
                    next_estimate_at=now + ESTIMATE_EVERY_S,
                    next_check_at=now + CHECK_EVERY_S,
                    offered_callback=bool(data.get("callback_offered")),
                )
            )
        self.log(f"call {cid} to {queue}: {data.get('said') or data.get('state')}")

    def tend_callers(self, now: float) -> None:
        still: list[Waiting] = []
        for w in self.waiting:
            if now >= w.next_check_at:
                w.next_check_at = now + CHECK_EVERY_S
                status, data = self.api.call("GET", f"/api/v1/contacts/{w.contact_id}", self.token)
                if status != 200 or data.get("state") != "queued":
                    continue  # offered to an agent, or gone
            if now >= w.leaves_at:
                share = min(1.0, self.callback_share * (1.5 if w.offered_callback else 1.0))
                if self.rng.random() < share:
                    status, _ = self.api.call(
                        "POST", f"/api/v1/contacts/{w.contact_id}/callback", self.token, {}
                    )
                    if status == 201:
                        self.tally.callbacks += 1
                        continue
                status, _ = self.api.call(
                    "POST", f"/api/v1/contacts/{w.contact_id}/abandon", self.token
                )
                self.tally.abandoned += status == 200
                continue
            if now >= w.next_estimate_at:
                w.next_estimate_at = now + ESTIMATE_EVERY_S
                status, data = self.api.call(
                    "POST", f"/api/v1/contacts/{w.contact_id}/estimate", self.token
                )
                if status == 200:
                    self.tally.estimates += 1
                    w.offered_callback = w.offered_callback or bool(data.get("callback_offered"))
            still.append(w)
        self.waiting = still

    # --- bot agents -----------------------------------------------------------------------

    def _act(self, bot: Bot, action: str, **extra: Any) -> bool:
        status, _ = self.api.call(
            "POST",
            f"/api/v1/agent/contacts/{bot.contact_id}",
            bot.token,
            {"action": action, **extra},
        )
        if status != 200:
            self.tally.conflicts += 1
        return status == 200

    def _available(self, bot: Bot) -> None:
        self.api.call(
            "PUT", f"/api/v1/agents/{bot.user_id}/state", bot.token, {"state": "available"}
        )

    def tend_bots(self, now: float) -> None:
        if not self.bots:
            return
        status, rows = self.api.call("GET", "/api/v1/agents", self.token)
        states = {int(r["user_id"]): r for r in rows} if status == 200 else {}
        for bot in self.bots:
            row = states.get(bot.user_id, {"state": "offline", "contact_id": None})
            if bot.phase == "idle":
                if row.get("contact_id"):
                    bot.contact_id = int(row["contact_id"])
                    if self._act(bot, "answer"):
                        self.tally.answered += 1
                        bot.phase = "talking"
                        bot.until = now + float(self.rng.exponential(self.aht_s))
                    else:
                        # left over from an earlier run (talking or wrapping): finish it
                        self._act(bot, "wrap_up", outcome="solved", resolved=True, recap="")
                        bot.contact_id = None
                elif row.get("state") in ("offline", "break"):
                    self._available(bot)
            elif bot.phase == "talking" and now >= bot.until:
                if self._act(bot, "end"):
                    bot.phase = "wrapping"
                    bot.until = now + self.wrap_s
                else:
                    bot.phase, bot.contact_id = "idle", None
            elif bot.phase == "wrapping" and now >= bot.until:
                self.tally.wrapped += self._act(
                    bot,
                    "wrap_up",
                    outcome="solved",
                    resolved=True,
                    recap="Llamada de demostración atendida. / Demo call handled.",
                )
                bot.phase, bot.contact_id = "idle", None

    # --- the run ----------------------------------------------------------------------------

    def run(self, duration_s: float | None) -> Tally:
        start = self.clock()
        next_arrival = start + self._gap_s()
        for bot in self.bots:
            self._available(bot)
        try:
            while duration_s is None or self.clock() - start < duration_s:
                now = self.clock()
                while now >= next_arrival:
                    self.place_call(now)
                    next_arrival += self._gap_s()
                self.tend_callers(now)
                self.tend_bots(now)
                self.sleep(TICK_S)
        except KeyboardInterrupt:
            self.log("stopping")
        self.finish()
        return self.tally

    def finish(self) -> None:
        """Leave the demo tidy: waiting simulated callers hang up, bots finish and log off."""
        for w in self.waiting:
            status, _ = self.api.call(
                "POST", f"/api/v1/contacts/{w.contact_id}/abandon", self.token
            )
            self.tally.abandoned += status == 200
        self.waiting = []
        for bot in self.bots:
            if bot.phase == "talking" and bot.contact_id is not None:
                self._act(bot, "end")
                bot.phase = "wrapping"
            if bot.phase == "wrapping" and bot.contact_id is not None:
                self.tally.wrapped += self._act(
                    bot, "wrap_up", outcome="solved", resolved=True, recap="", next_state="offline"
                )
            elif bot.phase == "idle":
                status, rows = self.api.call("GET", "/api/v1/agents", self.token)
                row = next((r for r in rows if int(r["user_id"]) == bot.user_id), None)
                if status == 200 and row is not None and row.get("contact_id"):
                    bot.contact_id = int(row["contact_id"])
                    if self._act(bot, "decline"):
                        continue  # a declined contact goes back to its place; the bot is on a break
                self.api.call(
                    "PUT", f"/api/v1/agents/{bot.user_id}/state", bot.token, {"state": "offline"}
                )


def _bots(api: Api, tokens: list[str]) -> list[Bot]:
    bots = []
    for token in tokens:
        status, me = api.call("GET", "/api/v1/auth/me", token)
        if status != 200:
            raise TrafficError(f"an --agent-token was refused ({status})")
        bots.append(Bot(token=token, user_id=int(me["id"]), username=str(me["username"])))
    return bots


def register(app: typer.Typer) -> None:
    @app.command("demo-traffic")
    def demo_traffic(
        url: str = typer.Option(
            "http://127.0.0.1:8000", help="The running server (loopback only)."
        ),
        calls_per_hour: float = typer.Option(
            120.0, "--calls-per-hour", min=0.0, max=MAX_CALLS_PER_HOUR, help="Mean arrival rate."
        ),
        token: str = typer.Option(
            ...,
            "--token",
            envvar="ESCUCHA_DEMO_TOKEN",
            help="API token of a supervisor or admin (escucha users token sofia).",
        ),
        agent_token: list[str] = typer.Option(
            [], "--agent-token", help="API token of an agent to play as a bot; repeat per bot."
        ),
        agents: int | None = typer.Option(
            None, "--agents", min=0, help="Bot agents to run (default: one per --agent-token)."
        ),
        duration: float | None = typer.Option(
            None, "--duration", min=0.0, help="Seconds to run (default: until Ctrl-C)."
        ),
        seed: int | None = typer.Option(None, "--seed", help="Seed for repeatable traffic."),
        aht_s: float = typer.Option(90.0, "--aht-s", min=0.1, help="Mean talk time of bots (s)."),
        patience_s: float = typer.Option(
            120.0, "--patience-s", min=0.1, help="Mean patience of callers (s)."
        ),
        wrap_s: float = typer.Option(10.0, "--wrap-s", min=0.0, help="Bots' wrap-up time (s)."),
        callback_share: float = typer.Option(
            0.4,
            "--callback-share",
            min=0.0,
            max=1.0,
            help="Share of impatient callers who take a callback.",
        ),
        json_out: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    ) -> None:
        """Feed simulated callers and bot agents into a running server (the wallboard moves)."""
        import numpy as np

        try:
            base = check_target(url)
        except TrafficError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        wanted = len(agent_token) if agents is None else agents
        if wanted > len(agent_token):
            typer.echo(
                f"error: --agents {wanted} needs {wanted} --agent-token values "
                f"(got {len(agent_token)}); create them with `escucha users token ana`",
                err=True,
            )
            raise typer.Exit(2)
        api = Api(base)
        try:
            status, me = api.call("GET", "/api/v1/auth/me", token)
            if status != 200 or me.get("role") not in ("supervisor", "admin"):
                raise TrafficError("--token must belong to a supervisor or an admin")
            status, rows = api.call("GET", "/api/v1/org/queues", token)
            queues = [str(r["name"]) for r in rows] if status == 200 else []
            if not queues:
                raise TrafficError("the server has no queues: load the demo (escucha demo load)")
            traffic = DemoTraffic(
                api,
                token=token,
                bots=_bots(api, agent_token[:wanted]),
                queues=queues,
                rng=np.random.default_rng(seed),
                calls_per_hour=calls_per_hour,
                aht_s=aht_s,
                patience_s=patience_s,
                wrap_s=wrap_s,
                callback_share=callback_share,
                log=(lambda line: None) if json_out else (lambda line: typer.echo(line, err=True)),
            )
            if not json_out:
                names = ", ".join(b.username for b in traffic.bots) or "none"
                typer.echo(
                    f"demo traffic to {base}: {calls_per_hour:g} calls/h into "
                    f"{', '.join(queues)}; bot agents: {names}",
                    err=True,
                )
            tally = traffic.run(duration)
        except TrafficError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        finally:
            api.close()
        if json_out:
            typer.echo(json.dumps(tally.as_json(), sort_keys=True))
        else:
            summary = tally.as_json()
            typer.echo(", ".join(f"{k} {v}" for k, v in summary.items() if k != "by_queue"))
