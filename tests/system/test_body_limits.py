"""Request bodies are refused at the door of a real server (uvicorn), before they are read:
by their ``Content-Length`` without reading a byte of them, and without a length by counting
them as they stream in, for every caller (anonymous, API token, Twilio webhook) (ADR 18)."""

from __future__ import annotations

import select
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy.orm import Session

from escucha.auth import service as auth_service
from escucha.config import Settings
from tests.conftest import START
from tests.factories import make_user
from tests.system.conftest import LiveServer, running_server

pytestmark = pytest.mark.system

MB = 1024 * 1024


@pytest.fixture
def server(settings: Settings, tmp_path: Path) -> Iterator[LiveServer]:
    with running_server(settings, tmp_path) as live:
        yield live


def _status(head: bytes) -> int:
    return int(head.split(b" ", 2)[1])


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0  # pragma: no cover - Linux always has it


def _tmp_bytes() -> int:
    """Bytes in the temporary directory's files (where a form's uploads are spooled)."""
    total = 0
    for entry in Path(tempfile.gettempdir()).iterdir():
        try:
            if entry.is_file():
                total += entry.stat().st_size
        except OSError:
            pass
    return total


MULTIPART_FILE = (
    b'--xyz\r\nContent-Disposition: form-data; name="attachment"; filename="a.bin"\r\n'
    b"Content-Type: application/octet-stream\r\n\r\n"
)


def _pieces(total: int, piece: int, chunked: bool, prefix: bytes = b"") -> Iterator[bytes]:
    data = b"x" * piece
    left = total
    if prefix:
        left -= len(prefix)
        yield f"{len(prefix):x}\r\n".encode() + prefix + b"\r\n" if chunked else prefix
    while left > 0:
        part = data if left >= piece else data[:left]
        left -= len(part)
        yield f"{len(part):x}\r\n".encode() + part + b"\r\n" if chunked else part
    if chunked:
        yield b"0\r\n\r\n"


def _send_until_answered(
    server: LiveServer,
    path: str,
    headers: dict[str, str],
    *,
    total: int,
    chunked: bool,
    hold_body_s: float = 0.0,
    piece: int = 256 * 1024,
    prefix: bytes = b"",
    timeout_s: float = 60,
) -> tuple[bytes, int]:
    """POST a body of ``total`` bytes, watching for the answer while sending.

    With ``hold_body_s`` the body waits that long after the headers, for an answer that
    needs none of it. Returns the answer's first bytes and how many bytes of the body (with
    its chunk framing) had gone out when it came.
    """
    url = urlsplit(server.url)
    assert url.hostname is not None
    assert url.port is not None
    lines = [f"POST {path} HTTP/1.1", f"Host: {url.netloc}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    lines.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {total}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode()
    body = _pieces(total, piece, chunked, prefix)
    sent = 0
    answer = b""
    with socket.create_connection((url.hostname, url.port), timeout=10) as conn:
        conn.sendall(head)
        if hold_body_s:
            ready, _, _ = select.select([conn], [], [], hold_body_s)
            if ready:  # answered on the headers alone: read it to the end (the server closes)
                while chunk := conn.recv(65536):
                    answer += chunk
                return answer, 0
        conn.setblocking(False)
        pending = memoryview(next(body, b""))
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            readable, writable, _ = select.select([conn], [conn] if pending else [], [], 1.0)
            if readable:
                try:
                    chunk = conn.recv(65536)
                except ConnectionResetError:
                    chunk = b""
                answer += chunk
                if not chunk or b"\r\n\r\n" in answer:
                    break
            if writable and pending:
                try:
                    n = conn.send(pending)
                except (BrokenPipeError, ConnectionResetError):
                    pending = memoryview(b"")
                    continue
                sent += n
                pending = pending[n:] if n < len(pending) else memoryview(next(body, b""))
    return answer, sent


def test_a_body_over_its_length_limit_is_refused_before_a_byte_of_it_is_sent(
    server: LiveServer,
) -> None:
    rss = _rss_kb(server.process.pid)
    # 500 MB to the anonymous complaint form: the answer comes with the headers alone
    answer, sent = _send_until_answered(
        server,
        "/complaints/new",
        {"Content-Type": "application/x-www-form-urlencoded"},
        total=500 * MB,
        chunked=False,
        hold_body_s=10,
    )
    assert _status(answer) == 413, answer[:300]
    assert sent == 0
    assert b"connection: close" in answer.lower()
    limit = 5 * MB + 64 * 1024  # the form takes files: the upload limit and framing (ADR 27)
    assert f"{limit} bytes".encode() in answer
    # 300 MB to a Twilio webhook, unsigned: refused by size, not by its (missing) signature
    answer, sent = _send_until_answered(
        server,
        "/telephony/twilio/voice",
        {"Content-Type": "application/x-www-form-urlencoded"},
        total=300 * MB,
        chunked=False,
        hold_body_s=10,
    )
    assert _status(answer) == 413, answer[:300]
    assert b'"error": "too_large"' in answer or b'"error":"too_large"' in answer
    assert sent == 0
    assert _rss_kb(server.process.pid) - rss < 50_000  # nothing of it was held


def test_a_chunked_body_is_cut_at_the_limit_while_it_streams(server: LiveServer) -> None:
    rss = _rss_kb(server.process.pid)
    spooled = _tmp_bytes()
    started = time.monotonic()
    # multipart, the kind of form whose files are spooled to disk as they are read
    answer, sent = _send_until_answered(
        server,
        "/complaints/new",
        {"Content-Type": "multipart/form-data; boundary=xyz"},
        total=300 * MB,
        chunked=True,
        prefix=MULTIPART_FILE,
    )
    elapsed = time.monotonic() - started
    assert _status(answer) == 413, answer[:300]
    # answered after about the limit (1 MB), long before the 300 MB were sent; the slack is
    # what the server and the kernel's socket buffers took in meanwhile
    assert sent < 32 * MB, sent
    assert elapsed < 20
    assert _rss_kb(server.process.pid) - rss < 50_000
    assert _tmp_bytes() - spooled < 8 * MB
    # the Twilio webhook without a length: its smaller limit (64 KB), before the signature
    answer, sent = _send_until_answered(
        server,
        "/telephony/twilio/status",
        {"Content-Type": "application/x-www-form-urlencoded"},
        total=300 * MB,
        chunked=True,
        piece=16 * 1024,
    )
    assert _status(answer) == 413, answer[:300]
    assert sent < 32 * MB, sent


def test_limits_apply_to_api_token_callers_and_routes_have_their_own(
    settings: Settings, session: Session, tmp_path: Path
) -> None:
    admin = make_user(session, username="root", role="admin")
    token = auth_service.create_token(session, admin, "t", now=START, scope="admin")
    session.commit()
    bearer = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    with running_server(settings, tmp_path) as server:
        # an API token does not lift the limit, with or without a length
        for chunked in (False, True):
            answer, sent = _send_until_answered(
                server,
                "/api/v1/tickets",
                bearer,
                total=100 * MB,
                chunked=chunked,
                hold_body_s=0 if chunked else 10,
            )
            assert _status(answer) == 413, answer[:300]
            assert sent < 32 * MB
        # the organisation file has the upload limit (5 MB): 2 MB pass the door and are read
        # (then refused as YAML), 6 MB do not
        yaml_headers = {"Authorization": f"Bearer {token}", "Content-Type": "text/yaml"}
        answer, sent = _send_until_answered(
            server, "/api/v1/org/apply", yaml_headers, total=2 * MB, chunked=False
        )
        assert _status(answer) == 422, answer[:300]
        assert sent == 2 * MB  # the whole body went in before the answer
        answer, sent = _send_until_answered(
            server, "/api/v1/org/apply", yaml_headers, total=6 * MB, chunked=False, hold_body_s=10
        )
        assert _status(answer) == 413
        assert sent == 0
