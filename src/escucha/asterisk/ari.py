"""A small client of the Asterisk REST Interface over HTTP (httpx), the part escucha uses.

Paths, parameters and answers follow Asterisk's API definitions (``rest-api/api-docs``). A
channel or bridge that is already gone (404) or no longer in escucha's application (409, 412,
422) is an ordinary race on a live PBX: those calls answer ``None`` and log at debug level.
Other failures raise :class:`AriError`.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

from escucha.config import Settings
from escucha.errors import EscuchaError

log = logging.getLogger("escucha.asterisk")

#: Answers that mean "that channel, bridge or playback is gone, or no longer ours".
RACES = frozenset({404, 409, 412, 422})


class AriError(EscuchaError):
    status_code = 502
    code = "ari_error"


class AriClient:
    def __init__(
        self, base_url: str, user: str, password: str, app: str, *, timeout_s: float = 5.0
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.app = app
        self.auth = (user, password)
        self.http = httpx.Client(base_url=self.base_url, auth=self.auth, timeout=timeout_s)

    @classmethod
    def from_settings(cls, settings: Settings) -> AriClient:
        return cls(settings.ari_url, settings.ari_user, settings.ari_password, settings.ari_app)

    def close(self) -> None:
        self.http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        races: bool = True,
    ) -> Any:
        """The decoded answer (``True`` when empty); ``None`` for a race when ``races``."""
        try:
            response = self.http.request(method, path, params=params, json=json)
        except httpx.HTTPError as exc:
            raise AriError(f"ARI {method} {path}: {exc}") from exc
        if races and response.status_code in RACES:
            log.debug("ARI %s %s: %s (gone)", method, path, response.status_code)
            return None
        if response.status_code >= 400:
            raise AriError(f"ARI {method} {path}: {response.status_code} {response.text[:200]}")
        if not response.content:
            return True
        if response.headers.get("content-type", "").startswith("application/json"):
            return response.json()
        return response.content

    # --- reading ---------------------------------------------------------------------------

    def channels(self) -> list[dict[str, Any]]:
        return list(self.request("GET", "/channels", races=False) or [])

    def bridges(self) -> list[dict[str, Any]]:
        return list(self.request("GET", "/bridges", races=False) or [])

    def endpoints(self) -> list[dict[str, Any]]:
        return list(self.request("GET", "/endpoints", races=False) or [])

    def application(self) -> dict[str, Any] | None:
        found = self.request("GET", f"/applications/{self.app}")
        return dict(found) if found is not None else None

    def info(self) -> dict[str, Any]:
        return dict(self.request("GET", "/asterisk/info", races=False) or {})

    def endpoint_config(self, resource: str) -> dict[str, str] | None:
        """A PJSIP endpoint's configuration (``attribute`` -> ``value``), or ``None``."""
        found = self.request("GET", f"/asterisk/config/dynamic/res_pjsip/endpoint/{resource}")
        if found is None:
            return None
        return {str(t.get("attribute")): str(t.get("value")) for t in found}

    def stored_recording(self, name: str) -> bytes | None:
        found = self.request("GET", f"/recordings/stored/{name}/file")
        return found if isinstance(found, bytes) else None

    # --- channels --------------------------------------------------------------------------

    def answer(self, channel: str) -> None:
        self.request("POST", f"/channels/{channel}/answer")

    def hangup(self, channel: str, reason: str = "normal") -> None:
        self.request("DELETE", f"/channels/{channel}", params={"reason": reason})

    def play(self, channel: str, media: str, *, playback_id: str, lang: str = "") -> bool:
        params = {"media": media, "playbackId": playback_id}
        if lang:
            params["lang"] = lang
        return self.request("POST", f"/channels/{channel}/play", params=params) is not None

    def stop_playback(self, playback_id: str) -> None:
        self.request("DELETE", f"/playbacks/{playback_id}")

    def start_moh(self, channel: str) -> None:
        self.request("POST", f"/channels/{channel}/moh")

    def stop_moh(self, channel: str) -> None:
        self.request("DELETE", f"/channels/{channel}/moh")

    def mute(self, channel: str, direction: str = "in") -> None:
        """``in``: what the channel's phone sends reaches no bridge (nor its recording)."""
        self.request("POST", f"/channels/{channel}/mute", params={"direction": direction})

    def unmute(self, channel: str, direction: str = "in") -> None:
        self.request("DELETE", f"/channels/{channel}/mute", params={"direction": direction})

    def record(self, channel: str, name: str, *, max_s: int) -> bool:
        params = {
            "name": name,
            "format": "wav",
            "maxDurationSeconds": max_s,
            "beep": "true",
            "terminateOn": "#",
            "ifExists": "overwrite",
        }
        return self.request("POST", f"/channels/{channel}/record", params=params) is not None

    def redirect(self, channel: str, endpoint: str) -> bool:
        found = self.request("POST", f"/channels/{channel}/redirect", params={"endpoint": endpoint})
        return found is not None

    def originate(
        self,
        endpoint: str,
        *,
        channel_id: str,
        app_args: str,
        caller_id: str = "",
        timeout_s: int = 30,
    ) -> dict[str, Any] | None:
        params: dict[str, Any] = {
            "endpoint": endpoint,
            "app": self.app,
            "appArgs": app_args,
            "channelId": channel_id,
            "timeout": timeout_s,
        }
        if caller_id:
            params["callerId"] = caller_id
        found = self.request("POST", "/channels", params=params)
        return dict(found) if found is not None else None

    # --- bridges ---------------------------------------------------------------------------

    def create_bridge(self, bridge_id: str, kind: str = "mixing") -> bool:
        params = {"type": kind, "bridgeId": bridge_id, "name": bridge_id}
        return self.request("POST", "/bridges", params=params) is not None

    def add_channel(self, bridge: str, channel: str) -> bool:
        found = self.request("POST", f"/bridges/{bridge}/addChannel", params={"channel": channel})
        return found is not None

    def remove_channel(self, bridge: str, channel: str) -> None:
        self.request("POST", f"/bridges/{bridge}/removeChannel", params={"channel": channel})

    def destroy_bridge(self, bridge: str) -> None:
        self.request("DELETE", f"/bridges/{bridge}")

    def record_bridge(self, bridge: str, name: str) -> bool:
        params = {"name": name, "format": "wav", "ifExists": "overwrite"}
        return self.request("POST", f"/bridges/{bridge}/record", params=params) is not None
