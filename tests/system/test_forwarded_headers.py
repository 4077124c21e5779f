"""``escucha serve`` believes ``X-Forwarded-For`` only from ESCUCHA_TRUSTED_PROXIES: by default
a changing header from 127.0.0.1 (a local proxy or tunnel) no longer gets round the login limit
(issue 14, finding 9)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from escucha.config import Settings
from tests.system.conftest import free_port, server_env, start_server, stop, wait_ready

pytestmark = pytest.mark.system


def _wrong_logins(url: str, count: int) -> list[int]:
    codes = []
    with httpx.Client(base_url=url, timeout=20) as http:
        page = http.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token
        for n in range(count):
            r = http.post(
                "/login",
                # one try per account: only the per-address limit can refuse
                data={"username": f"user{n}", "password": "guess-x", "csrf_token": token.group(1)},
                headers={"X-Forwarded-For": f"198.51.100.{n + 1}"},
            )
            codes.append(r.status_code)
    return codes


def _serve(settings: Settings, tmp_path: Path, name: str, **extra: str) -> list[int]:
    port = free_port()
    env = server_env(settings, port, ESCUCHA_LOGIN_RATE_PER_MIN="3", **extra)
    log = tmp_path / f"{name}.log"
    process = start_server(env, log, "--no-worker")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, process, log)
        return _wrong_logins(url, 4)
    finally:
        stop(process)


def test_a_forged_forwarded_for_from_loopback_is_ignored_by_default(
    settings: Settings, tmp_path: Path
) -> None:
    assert _serve(settings, tmp_path, "default") == [401, 401, 401, 429]


def test_a_named_proxy_s_forwarded_for_is_believed(settings: Settings, tmp_path: Path) -> None:
    codes = _serve(settings, tmp_path, "trusted", ESCUCHA_TRUSTED_PROXIES="127.0.0.1")
    assert codes == [401, 401, 401, 401]  # four clients behind the proxy, one try each
