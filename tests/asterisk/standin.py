"""An Asterisk ARI stand-in: a real HTTP and WebSocket server on loopback (uvicorn).

It implements the part of ARI escucha uses, with the paths, parameters, answers and event
order of Asterisk's API definitions (``rest-api/api-docs/{channels,bridges,events,playbacks,
recordings,applications,endpoints,asterisk}.json``): channels (answer, play, moh, mute, record,
redirect, hang-up, originate into the application), bridges (mixing, add/remove channels,
record), playbacks, stored recordings, endpoints and their PJSIP configuration, the application
and ``/events`` (HTTP Basic credentials on both).

The test drives the far ends: a call comes in (``call_in``), the caller presses keys (``dtmf``,
optionally twice with the same timestamp as a repeated event), hangs up (during a playback
too), an agent's phone answers or not. It can drop the WebSocket (the events of that time are
lost, as with a real Asterisk), make a channel vanish without an event, and answers 404 for
anything gone.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import itertools
import json
import socket
import threading
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse, Response

ASTERISK_ID = "02:42:ac:11:00:02"


def _stamp() -> str:
    """Asterisk's event time: milliseconds and a numeric offset."""
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}+0000"


def _wav(seconds: float) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x00" * int(8000 * seconds))
    return out.getvalue()


@dataclass
class Leg:
    channel: dict[str, Any]
    in_app: bool = True
    args: list[str] = field(default_factory=list)
    bridge: str | None = None
    moh: bool = False
    #: Directions muted (``in``: what the phone sends reaches no bridge; ``out``).
    muted: set[str] = field(default_factory=set)
    recording: str | None = None
    answered: bool = False
    redirected_to: str | None = None


class AriStandIn:
    def __init__(
        self,
        *,
        app: str = "escucha",
        user: str = "escucha",
        password: str = "ari-secret",  # noqa: S107 - the stand-in's own test credentials
        play_s: float = 0.03,
        endpoints: dict[str, str] | None = None,
    ) -> None:
        self.app_name = app
        self.user = user
        self.password = password
        self.play_s = play_s
        #: "PJSIP/ana" -> state (online/offline); the agents' phones and the trunk.
        self.endpoints = dict(endpoints or {})
        self.endpoint_config: dict[str, dict[str, str]] = {}
        #: Endpoint prefix -> seconds after which an originated leg answers by itself (None:
        #: it rings until the test answers or rejects it).
        self.auto_answer: dict[str, float | None] = {}
        self.legs: dict[str, Leg] = {}
        self.bridges: dict[str, dict[str, Any]] = {}
        self.playbacks: dict[str, dict[str, Any]] = {}
        self.live_recordings: dict[str, dict[str, Any]] = {}
        self.stored: dict[str, bytes] = {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.events: list[dict[str, Any]] = []
        self.lost_events = 0
        #: While set, the events WebSocket is refused (Asterisk restarting, a network cut).
        self.refusing = False
        self.connections = 0
        self.drops = 0
        self.lock = threading.RLock()
        self._ids = itertools.count(1)
        self._queue: asyncio.Queue[dict[str, Any] | None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self.api = self._build()

    # --- running ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/ari"

    def start(self) -> AriStandIn:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.api, log_level="warning", lifespan="off", ws_ping_interval=None
        )
        self._server = uvicorn.Server(config)

        def run() -> None:
            asyncio.run(self._server.serve(sockets=[sock]))  # type: ignore[union-attr]

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 5
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the ARI stand-in did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(5)

    @property
    def ws_connected(self) -> bool:
        return self._queue is not None

    # --- events ----------------------------------------------------------------------------

    def emit(self, kind: str, **body: Any) -> None:
        event = {
            "type": kind,
            "timestamp": _stamp(),
            "application": self.app_name,
            "asterisk_id": ASTERISK_ID,
            **body,
        }
        self._send(event)

    def _send(self, event: dict[str, Any]) -> None:
        with self.lock:
            queue, loop = self._queue, self._loop
            if queue is None or loop is None:
                self.lost_events += 1  # nobody listens: Asterisk sends it nowhere
                return
            self.events.append(event)
            loop.call_soon_threadsafe(queue.put_nowait, event)

    def _later(self, seconds: float, work: Callable[[], None]) -> None:
        timer = threading.Timer(seconds, work)
        timer.daemon = True
        timer.start()

    # --- the far ends, driven by the test --------------------------------------------------

    def call_in(self, number: str = "+34600111222", *, exten: str = "900") -> str:
        """A call reaches ``Stasis(<app>)`` in the dialplan; its channel id."""
        if not self.ws_connected:
            raise RuntimeError("no application connected: Stasis() would fail")
        cid = f"1733600000.{next(self._ids)}"
        channel = self._channel(cid, f"PJSIP/carrier-{cid[-4:]}", number, "Ring")
        channel["dialplan"] = {
            "context": "from-carrier",
            "exten": exten,
            "priority": 2,
            "app_name": "Stasis",
            "app_data": self.app_name,
        }
        with self.lock:
            self.legs[cid] = Leg(channel)
        self.emit("StasisStart", args=[], channel=channel)
        return cid

    def dtmf(self, cid: str, digit: str, *, repeat: bool = False) -> None:
        with self.lock:
            leg = self.legs.get(cid)
            if leg is None:
                return
            event = {
                "type": "ChannelDtmfReceived",
                "timestamp": _stamp(),
                "application": self.app_name,
                "asterisk_id": ASTERISK_ID,
                "digit": digit,
                "duration_ms": 120,
                "channel": leg.channel,
            }
        self._send(event)
        if repeat:
            self._send(dict(event))
        if digit == "#":
            self._finish_recording_of(cid)

    def hangup(self, cid: str, cause: int = 16) -> None:
        """The far end hangs up (playbacks end first, then the bridge, then the channel)."""
        with self.lock:
            leg = self.legs.get(cid)
        if leg is None:
            return
        self.emit("ChannelHangupRequest", cause=cause, channel=leg.channel)
        self._destroy(cid, cause)

    def answer_leg(self, cid: str) -> None:
        with self.lock:
            leg = self.legs.get(cid)
            if leg is None or leg.answered:
                return
            leg.answered = True
            leg.channel["state"] = "Up"
        self.emit("ChannelStateChange", channel=leg.channel)
        self.emit("StasisStart", args=leg.args, channel=leg.channel)

    def reject_leg(self, cid: str, cause: int = 17) -> None:
        self._destroy(cid, cause)

    def vanish(self, cid: str) -> None:
        """The channel is gone and no event says so (it ended while nobody listened)."""
        with self.lock:
            leg = self.legs.pop(cid, None)
            if leg is not None and leg.bridge in self.bridges:
                self.bridges[leg.bridge]["channels"].remove(cid)

    def drop_ws(self) -> None:
        """Close escucha's events WebSocket from Asterisk's side."""
        with self.lock:
            queue, loop = self._queue, self._loop
            self._queue = None
            self.drops += 1
        if queue is not None and loop is not None:
            loop.call_soon_threadsafe(queue.put_nowait, None)

    def leg_of(self, prefix: str) -> list[str]:
        with self.lock:
            return [cid for cid, leg in self.legs.items() if cid.startswith(prefix)]

    def originated(self) -> list[dict[str, str]]:
        """The parameters of every ``POST /channels`` (originate), in order."""
        with self.lock:
            return [p for m, path, p in self.requests if m == "POST" and path == "/ari/channels"]

    def moh_on(self, cid: str) -> bool:
        with self.lock:
            leg = self.legs.get(cid)
            return bool(leg and leg.moh)

    def muted(self, cid: str) -> bool:
        """Whether what the channel's phone sends is kept out of its bridge."""
        with self.lock:
            leg = self.legs.get(cid)
            return bool(leg and "in" in leg.muted)

    def calls(self, method: str, path_part: str) -> list[dict[str, str]]:
        with self.lock:
            return [p for m, path, p in self.requests if m == method and path_part in path]

    # --- the model -------------------------------------------------------------------------

    def _channel(self, cid: str, name: str, number: str, state: str) -> dict[str, Any]:
        return {
            "id": cid,
            "name": name,
            "state": state,
            "protocol_id": "",
            "caller": {"name": "", "number": number},
            "connected": {"name": "", "number": ""},
            "accountcode": "",
            "dialplan": {
                "context": "default",
                "exten": "s",
                "priority": 1,
                "app_name": "AppDial2",
                "app_data": "(Outgoing Line)",
            },
            "creationtime": _stamp(),
            "language": "es",
        }

    def _destroy(self, cid: str, cause: int) -> None:
        with self.lock:
            leg = self.legs.get(cid)
            if leg is None:
                return
            playing = [p for p in self.playbacks.values() if p["target_uri"] == f"channel:{cid}"]
        for playback in playing:
            self._finish_playback(playback["id"])
        self._finish_recording_of(cid)
        with self.lock:
            bridge = self.bridges.get(leg.bridge or "")
        if bridge is not None:
            with self.lock:
                bridge["channels"].remove(cid)
            self.emit("ChannelLeftBridge", bridge=bridge, channel=leg.channel)
        if leg.in_app and leg.answered:
            self.emit("StasisEnd", channel=leg.channel)
        with self.lock:
            self.legs.pop(cid, None)
        texts = {16: "Normal Clearing", 17: "User busy", 19: "No answer", 21: "Call Rejected"}
        self.emit(
            "ChannelDestroyed",
            cause=cause,
            cause_txt=texts.get(cause, "Unknown"),
            channel=leg.channel,
        )

    def _finish_playback(self, pid: str) -> None:
        with self.lock:
            playback = self.playbacks.pop(pid, None)
        if playback is not None:
            playback["state"] = "done"
            self.emit("PlaybackFinished", playback=playback)

    def _finish_recording_of(self, target: str) -> None:
        with self.lock:
            found = [
                r
                for r in self.live_recordings.values()
                if r["target_uri"] in (f"channel:{target}", f"bridge:{target}")
            ]
        for recording in found:
            with self.lock:
                self.live_recordings.pop(recording["name"], None)
                recording["state"] = "done"
                recording["duration"] = 2
                self.stored[recording["name"]] = _wav(0.2)
            self.emit("RecordingFinished", recording=recording)

    # --- the HTTP API ----------------------------------------------------------------------

    def _authorised(self, header: str | None) -> bool:
        token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        return header == f"Basic {token}"

    def _build(self) -> FastAPI:
        api = FastAPI()
        me = self

        @api.middleware("http")
        async def auth(request: Request, call_next: Any) -> Any:
            if not me._authorised(request.headers.get("authorization")):
                return JSONResponse({"message": "Authentication required"}, status_code=401)
            with me.lock:
                me.requests.append((request.method, request.url.path, dict(request.query_params)))
            return await call_next(request)

        def gone(what: str = "Channel not found") -> Response:
            return JSONResponse({"message": what}, status_code=404)

        def leg_or_none(cid: str) -> Leg | None:
            with me.lock:
                leg = me.legs.get(cid)
            return leg if leg is not None and leg.in_app else None

        @api.websocket("/ari/events")
        async def events(ws: WebSocket) -> None:
            if (
                me.refusing
                or not me._authorised(ws.headers.get("authorization"))
                or ws.query_params.get("app") != me.app_name
            ):
                await ws.close(code=1008)
                return
            await ws.accept()
            queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
            with me.lock:
                me._queue = queue
                me._loop = asyncio.get_running_loop()
                me.connections += 1
            receiving = asyncio.ensure_future(ws.receive())
            try:
                while True:
                    getting = asyncio.ensure_future(queue.get())
                    done, _pending = await asyncio.wait(
                        {getting, receiving}, return_when=asyncio.FIRST_COMPLETED
                    )
                    if receiving in done:
                        getting.cancel()
                        break
                    event = getting.result()
                    if event is None:
                        break
                    await ws.send_text(json.dumps(event))
            except WebSocketDisconnect:
                pass
            finally:
                receiving.cancel()
                with me.lock:
                    if me._queue is queue:
                        me._queue = None
                with contextlib.suppress(RuntimeError, WebSocketDisconnect):
                    await ws.close()

        @api.get("/ari/asterisk/info")
        def info() -> Any:
            return {
                "build": {
                    "os": "Linux",
                    "kernel": "6.1",
                    "machine": "x86_64",
                    "options": "",
                    "date": "2026-08-06",
                    "user": "root",
                },
                "system": {"version": "22.5.0", "entity_id": ASTERISK_ID},
                "config": {
                    "name": "",
                    "default_language": "en",
                    "setid": {"user": "asterisk", "group": "asterisk"},
                },
                "status": {"startup_time": _stamp(), "last_reload_time": _stamp()},
            }

        @api.get("/ari/applications/{name}")
        def application(name: str) -> Any:
            if name != me.app_name or not me.ws_connected:
                return JSONResponse({"message": "Application not found"}, status_code=404)
            with me.lock:
                return {
                    "name": name,
                    "channel_ids": [c for c, leg in me.legs.items() if leg.in_app],
                    "bridge_ids": list(me.bridges),
                    "endpoint_ids": [],
                    "device_names": [],
                    "events_allowed": [],
                    "events_disallowed": [],
                }

        @api.get("/ari/endpoints")
        def endpoints() -> Any:
            with me.lock:
                return [
                    {
                        "technology": e.split("/", 1)[0],
                        "resource": e.split("/", 1)[1],
                        "state": state,
                        "channel_ids": [],
                    }
                    for e, state in me.endpoints.items()
                ]

        @api.get("/ari/asterisk/config/dynamic/res_pjsip/endpoint/{resource}")
        def endpoint_config(resource: str) -> Any:
            fields = me.endpoint_config.get(resource)
            if fields is None:
                return gone("Object not found")
            return [{"attribute": k, "value": v} for k, v in fields.items()]

        @api.get("/ari/channels")
        def channels() -> Any:
            with me.lock:
                return [leg.channel for leg in me.legs.values()]

        @api.post("/ari/channels")
        def originate(
            endpoint: str,
            app: str = "",
            appArgs: str = "",
            channelId: str = "",
            timeout: int = 30,
            callerId: str = "",
        ) -> Any:
            if not app:
                return JSONResponse({"message": "Endpoint must be specified"}, status_code=400)
            tech, _, resource = endpoint.partition("/")
            name = f"{tech}/{resource.split('@', 1)[-1] if '@' in resource else resource}"
            with me.lock:
                if name not in me.endpoints:
                    return JSONResponse({"message": "Allocation failed"}, status_code=400)
                if channelId in me.legs:
                    return JSONResponse({"message": "Channel ID exists"}, status_code=409)
                cid = channelId or f"1733600001.{next(me._ids)}"
                channel = me._channel(cid, f"{name}-{cid[-6:]}", callerId, "Down")
                leg = Leg(channel, args=appArgs.split(",") if appArgs else [])
                leg.redirected_to = endpoint
                me.legs[cid] = leg
                delay = next((s for p, s in me.auto_answer.items() if endpoint.startswith(p)), None)
            if delay is not None:
                me._later(delay, lambda: me.answer_leg(cid))
            return channel

        @api.get("/ari/channels/{cid}")
        def get_channel(cid: str) -> Any:
            leg = leg_or_none(cid)
            return leg.channel if leg is not None else gone()

        @api.delete("/ari/channels/{cid}")
        def hangup(cid: str) -> Any:
            if leg_or_none(cid) is None:
                return gone()
            me._later(0.0, lambda: me._destroy(cid, 16))
            return Response(status_code=204)

        @api.post("/ari/channels/{cid}/answer")
        def answer(cid: str) -> Any:
            leg = leg_or_none(cid)
            if leg is None:
                return gone()
            with me.lock:
                leg.answered = True
                leg.channel["state"] = "Up"
            me.emit("ChannelStateChange", channel=leg.channel)
            return Response(status_code=204)

        @api.post("/ari/channels/{cid}/play")
        def play(cid: str, media: str, playbackId: str = "", lang: str = "") -> Any:
            leg = leg_or_none(cid)
            if leg is None:
                return gone()
            pid = playbackId or f"pb-{next(me._ids)}"
            playback = {
                "id": pid,
                "media_uri": media,
                "target_uri": f"channel:{cid}",
                "language": lang or "en",
                "state": "queued",
            }
            with me.lock:
                me.playbacks[pid] = playback

            def start() -> None:
                with me.lock:
                    if pid not in me.playbacks:
                        return
                    playback["state"] = "playing"
                me.emit("PlaybackStarted", playback=dict(playback))
                me._later(me.play_s, lambda: me._finish_playback(pid))

            me._later(0.0, start)
            return JSONResponse(dict(playback), status_code=201)

        @api.delete("/ari/playbacks/{pid}")
        def stop_playback(pid: str) -> Any:
            with me.lock:
                if pid not in me.playbacks:
                    return gone("Playback not found")
            me._later(0.0, lambda: me._finish_playback(pid))
            return Response(status_code=204)

        @api.post("/ari/channels/{cid}/moh")
        def start_moh(cid: str, mohClass: str = "") -> Any:
            leg = leg_or_none(cid)
            if leg is None:
                return gone()
            leg.moh = True
            return Response(status_code=204)

        @api.delete("/ari/channels/{cid}/moh")
        def stop_moh(cid: str) -> Any:
            leg = leg_or_none(cid)
            if leg is None:
                return gone()
            leg.moh = False
            return Response(status_code=204)

        @api.post("/ari/channels/{cid}/mute")
        def mute(cid: str, direction: str = "both") -> Any:
            leg = leg_or_none(cid)
            if leg is None:
                return gone()
            with me.lock:
                leg.muted |= {"in", "out"} if direction == "both" else {direction}
            return Response(status_code=204)

        @api.delete("/ari/channels/{cid}/mute")
        def unmute(cid: str, direction: str = "both") -> Any:
            leg = leg_or_none(cid)
            if leg is None:
                return gone()
            with me.lock:
                leg.muted -= {"in", "out"} if direction == "both" else {direction}
            return Response(status_code=204)

        @api.post("/ari/channels/{cid}/record")
        def record(cid: str, name: str, format: str, terminateOn: str = "none") -> Any:
            leg = leg_or_none(cid)
            if leg is None:
                return gone()
            recording = {
                "name": name,
                "format": format,
                "target_uri": f"channel:{cid}",
                "state": "queued",
            }
            with me.lock:
                me.live_recordings[name] = recording
            me.emit("RecordingStarted", recording={**recording, "state": "recording"})
            return JSONResponse(recording, status_code=201)

        @api.post("/ari/channels/{cid}/redirect")
        def redirect(cid: str, endpoint: str) -> Any:
            leg = leg_or_none(cid)
            if leg is None:
                return gone()
            with me.lock:
                leg.in_app = False
                leg.redirected_to = endpoint
            me.emit("StasisEnd", channel=leg.channel)
            return Response(status_code=204)

        @api.get("/ari/bridges")
        def bridges() -> Any:
            with me.lock:
                return [dict(b) for b in me.bridges.values()]

        @api.post("/ari/bridges")
        def create_bridge(type: str = "mixing", bridgeId: str = "", name: str = "") -> Any:
            with me.lock:
                if bridgeId in me.bridges:
                    return JSONResponse({"message": "Bridge with id exists"}, status_code=409)
                bid = bridgeId or f"br-{next(me._ids)}"
                bridge = {
                    "id": bid,
                    "technology": "simple_bridge",
                    "bridge_type": type,
                    "bridge_class": "stasis",
                    "creator": "Stasis",
                    "name": name,
                    "channels": [],
                    "video_mode": "none",
                    "creationtime": _stamp(),
                }
                me.bridges[bid] = bridge
            me.emit("BridgeCreated", bridge=bridge)
            return bridge

        @api.post("/ari/bridges/{bid}/addChannel")
        def add_channel(bid: str, channel: str) -> Any:
            with me.lock:
                bridge = me.bridges.get(bid)
                leg = me.legs.get(channel)
                if bridge is None:
                    return gone("Bridge not found")
                if leg is None:
                    return JSONResponse({"message": "Channel not found"}, status_code=400)
                if not leg.in_app:
                    return JSONResponse({"message": "Channel not in Stasis"}, status_code=422)
                if channel not in bridge["channels"]:
                    bridge["channels"].append(channel)
                leg.bridge = bid
            me.emit("ChannelEnteredBridge", bridge=dict(bridge), channel=leg.channel)
            return Response(status_code=204)

        @api.post("/ari/bridges/{bid}/removeChannel")
        def remove_channel(bid: str, channel: str) -> Any:
            with me.lock:
                bridge = me.bridges.get(bid)
                leg = me.legs.get(channel)
                if bridge is None:
                    return gone("Bridge not found")
                if leg is None or channel not in bridge["channels"]:
                    return JSONResponse({"message": "Channel not in bridge"}, status_code=422)
                bridge["channels"].remove(channel)
                leg.bridge = None
            me.emit("ChannelLeftBridge", bridge=dict(bridge), channel=leg.channel)
            return Response(status_code=204)

        @api.delete("/ari/bridges/{bid}")
        def destroy_bridge(bid: str) -> Any:
            with me.lock:
                bridge = me.bridges.pop(bid, None)
            if bridge is None:
                return gone("Bridge not found")
            me._finish_recording_of(bid)
            me.emit("BridgeDestroyed", bridge=bridge)
            return Response(status_code=204)

        @api.post("/ari/bridges/{bid}/record")
        def record_bridge(bid: str, name: str, format: str) -> Any:
            with me.lock:
                if bid not in me.bridges:
                    return gone("Bridge not found")
                recording = {
                    "name": name,
                    "format": format,
                    "target_uri": f"bridge:{bid}",
                    "state": "queued",
                }
                me.live_recordings[name] = recording
            me.emit("RecordingStarted", recording={**recording, "state": "recording"})
            return JSONResponse(recording, status_code=201)

        @api.get("/ari/recordings/stored/{name}/file")
        def stored_file(name: str) -> Any:
            with me.lock:
                data = me.stored.get(name)
            if data is None:
                return gone("Recording not found")
            return Response(data, media_type="audio/wav")

        return api
