"""The node that consumes an Asterisk's ARI events and drives its calls (ADR 22).

It runs wherever the job worker runs (``escucha worker``, or ``escucha serve`` with its
built-in worker) when ``ESCUCHA_ARI_URL`` is set. Only the holder of the PBX's lease (a row in
the database, renewed every third of ``ESCUCHA_ARI_LEASE_S``) connects to ARI's events
WebSocket; the other nodes wait, and one takes over within the lease's time when the holder
stops. A dropped WebSocket is opened again with backoff (0.5 s doubling up to 10 s); after each
connection the node reconciles its calls with the PBX's channels and bridges.

Each event, and each pass of the timers, is one database transaction.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from websockets.exceptions import WebSocketException
from websockets.sync.client import ClientConnection, connect

from escucha.asterisk import rules as A
from escucha.asterisk import service as pbx
from escucha.asterisk.ari import AriClient, AriError
from escucha.asterisk.lines import Driver, Speak
from escucha.asterisk.observe import event_time, left, observe
from escucha.clock import Clock
from escucha.config import Settings
from escucha.db.session import transaction
from escucha.telephony import rules as R

log = logging.getLogger("escucha.asterisk")


def speaker(settings: Settings) -> Speak:
    """Prompts as media the PBX fetches from escucha (espeak-ng, 8 kHz WAV)."""

    def speak(say: R.Say) -> str:
        return pbx.prompt_media(pbx.render_prompt(say.text, say.language, settings), settings)

    return speak


class AriConsumer:
    def __init__(
        self,
        factory: sessionmaker[Session],
        settings: Settings,
        clock: Clock,
        *,
        name: str = "",
        client: AriClient | None = None,
        speak: Speak | None = None,
        poll_s: float = R.POLL_S,
        timeout_scale: float = 1.0,
        tick_s: float = 0.5,
    ) -> None:
        self.factory = factory
        self.settings = settings
        self.clock = clock
        self.holder = f"{name or 'ari'}@{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.lease = A.lease_name(settings.ari_url, settings.ari_app)
        self.url = A.events_url(settings.ari_url, settings.ari_app)
        self.client = client or AriClient.from_settings(settings)
        self._speak = speak or speaker(settings)
        self._poll_s = poll_s
        self._scale = timeout_scale
        self.tick_s = tick_s
        self.driver = self._driver()
        self.stop_event = threading.Event()
        self.connected = threading.Event()
        self.connections = 0
        self.holding = False
        self._ws: ClientConnection | None = None
        self._thread: threading.Thread | None = None
        self._release = True

    def _driver(self) -> Driver:
        return Driver(
            self.client,
            self.settings,
            self._speak,
            poll_s=self._poll_s,
            timeout_scale=self._scale,
        )

    @property
    def reconnects(self) -> int:
        """Connections opened again after the first."""
        return max(0, self.connections - 1)

    # --- the lease -------------------------------------------------------------------------

    def _take_lease(self, *, connected: bool = False) -> bool:
        """Take or renew the lease; ``connected``: the events flow, so every channel that has
        not ended is alive now (a vanished one is closed at the last such time)."""
        ttl = self.settings.ari_lease_s
        try:
            with transaction(self.factory) as session:
                held = pbx.take_lease(
                    session, self.lease, self.holder, now=self.clock.now(), ttl_s=ttl
                )
                if held and connected:
                    pbx.seen(session, self.driver.alive(), now=self.clock.now())
        except Exception:
            log.exception("the ARI lease could not be renewed")
            held = False
        if held != self.holding:
            log.info("ARI lease %s", "taken" if held else "lost", extra={"holder": self.holder})
        self.holding = held
        return held

    # --- the loop --------------------------------------------------------------------------

    def run_forever(self) -> None:
        attempt = 0
        auth = base64.b64encode(
            f"{self.settings.ari_user}:{self.settings.ari_password}".encode()
        ).decode()
        while not self.stop_event.is_set():
            if not self._take_lease():
                self.stop_event.wait(min(1.0, self.settings.ari_lease_s / 3))
                continue
            try:
                with connect(
                    self.url,
                    additional_headers={"Authorization": f"Basic {auth}"},
                    open_timeout=5,
                    close_timeout=1,
                ) as ws:
                    self._ws = ws
                    attempt = 0
                    self.connections += 1
                    self._in_tx(self.driver.reconcile)
                    self.connected.set()
                    self._serve(ws)
            except (OSError, TimeoutError, WebSocketException, AriError) as exc:
                log.warning("ARI events connection lost: %s", exc)
            finally:
                self._ws = None
                self.connected.clear()
            if self.stop_event.is_set():
                break
            attempt += 1
            self.stop_event.wait(A.backoff_s(attempt))
        if self.holding and self._release:
            with transaction(self.factory) as session:
                pbx.release_lease(session, self.lease, self.holder, now=self.clock.now())
        log.info("ARI consumer stopped", extra={"holder": self.holder})

    def _serve(self, ws: ClientConnection) -> None:
        renew_every = self.settings.ari_lease_s / 3
        renew_at = time.monotonic() + renew_every
        tick_at = 0.0
        while not self.stop_event.is_set():
            try:
                message = ws.recv(timeout=self.tick_s)
            except TimeoutError:
                message = None
            if message:
                event = json.loads(message)
                if isinstance(event, dict):
                    self._in_tx(lambda s, now, e=event: self.driver.handle(s, e, now=now))
            mono = time.monotonic()
            if mono >= tick_at:
                tick_at = mono + self.tick_s
                self._in_tx(self.driver.tick)
            if mono >= renew_at:
                renew_at = mono + renew_every
                if not self._take_lease(connected=True):
                    log.warning("another node holds the PBX's events now; this one lets go")
                    self.driver = self._driver()
                    return

    def _in_tx(self, work: Callable[..., Any]) -> None:
        try:
            with transaction(self.factory) as session:
                work(session, now=self.clock.now())
        except AriError as exc:
            log.warning("ARI request failed: %s", exc)
        except Exception:
            log.exception("ARI event not handled")

    # --- threads ---------------------------------------------------------------------------

    def start_thread(self) -> None:
        self._thread = threading.Thread(target=self.run_forever, name="escucha-ari", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0, *, release: bool = True) -> None:
        """Stop; ``release=False`` leaves the lease to lapse, as a node that died would."""
        self._release = release
        self.stop_event.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        self.client.close()


#: Seconds after a caller left an Asterisk queue before escucha decides nobody answered them.
LEAVE_GRACE_S = 3.0


class AmiObserver:
    """Observe-only mode: reads Asterisk's queue events over AMI into the contact log."""

    def __init__(self, factory: sessionmaker[Session], settings: Settings, clock: Clock) -> None:
        self.factory = factory
        self.settings = settings
        self.clock = clock
        self.stop_event = threading.Event()
        self.connections = 0
        self.observed = 0
        self.connected = threading.Event()
        self._leaving: dict[str, float] = {}
        self._thread: threading.Thread | None = None

    def run_forever(self) -> None:
        attempt = 0
        while not self.stop_event.is_set():
            try:
                with socket.create_connection(
                    (self.settings.ami_host, self.settings.ami_port), timeout=5
                ) as sock:
                    self._session(sock)
                    attempt = 0
            except (OSError, ValueError) as exc:
                log.warning("AMI connection lost: %s", exc)
            finally:
                self.connected.clear()
            attempt += 1
            self.stop_event.wait(A.backoff_s(attempt))

    def _session(self, sock: socket.socket) -> None:
        sock.settimeout(0.2)
        buffer = b""
        login = A.ami_action(
            "Login",
            Username=self.settings.ami_user,
            Secret=self.settings.ami_secret,
            Events="call,agent",
        )
        sock.sendall(login)
        logged_in = False
        while not self.stop_event.is_set():
            try:
                chunk = sock.recv(65536)
                if not chunk:
                    raise OSError("AMI closed the connection")
                buffer += chunk
            except TimeoutError:
                pass
            while b"\r\n\r\n" in buffer:
                block, buffer = buffer.split(b"\r\n\r\n", 1)
                message = A.ami_message(block.decode("utf-8", errors="replace"))
                if message.get("Response") == "Error" and not logged_in:
                    raise ValueError(f"AMI refused the login: {message.get('Message', '')}")
                if message.get("Response") == "Success" and not logged_in:
                    logged_in = True
                    self.connections += 1
                    self.connected.set()
                if "Event" in message:
                    self._event(message)
            self._leave_due()

    def _event(self, message: dict[str, str]) -> None:
        try:
            with transaction(self.factory) as session:
                done = observe(session, message, now=event_time(message, self.clock.now()))
        except Exception:
            log.exception("AMI event not written")
            return
        if done.step == "leaving":
            self._leaving[message.get("Uniqueid", "")] = time.monotonic() + LEAVE_GRACE_S
        elif done.contact_id is not None and done.step not in ("noted", "repeated"):
            self.observed += 1

    def _leave_due(self) -> None:
        mono = time.monotonic()
        for uid, due in list(self._leaving.items()):
            if mono >= due:
                del self._leaving[uid]
                with transaction(self.factory) as session:
                    left(session, uid, now=self.clock.now())

    def start_thread(self) -> None:
        self._thread = threading.Thread(target=self.run_forever, name="escucha-ami", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self.stop_event.set()
        if self._thread is not None:
            self._thread.join(timeout_s)


def start_pbx_threads(
    factory: sessionmaker[Session], settings: Settings, clock: Clock
) -> list[AriConsumer | AmiObserver]:
    """The PBX threads these settings ask for (ARI, AMI), started."""
    threads: list[AriConsumer | AmiObserver] = []
    if settings.ari_url:
        threads.append(AriConsumer(factory, settings, clock))
    if settings.ami_host:
        threads.append(AmiObserver(factory, settings, clock))
    for thread in threads:
        thread.start_thread()
    return threads
