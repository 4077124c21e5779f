"""An idle connection stays open longer than clients and proxies keep theirs (75 s by default),
so a request is never sent on a connection the server is closing at that moment."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

import pytest

from tests.system.conftest import LiveServer

pytestmark = pytest.mark.system


def _get(conn: socket.socket, host: str) -> bytes:
    conn.sendall(f"GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def test_an_idle_connection_is_kept_past_common_client_timeouts(live_server: LiveServer) -> None:
    url = urlsplit(live_server.url)
    assert url.hostname is not None
    assert url.port is not None
    with socket.create_connection((url.hostname, url.port), timeout=10) as conn:
        assert _get(conn, url.netloc).startswith(b"HTTP/1.1 200")
        time.sleep(6)  # uvicorn's own default closes idle connections after 5 s
        assert _get(conn, url.netloc).startswith(b"HTTP/1.1 200")
