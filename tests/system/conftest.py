"""A real server process on a free loopback port, and Debian's Chromium through Playwright."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from escucha.config import Settings

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("ESCUCHA_TEST_ARTIFACTS", "test-artifacts"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen[bytes]
    env: dict[str, str]
    log: Path


def server_env(settings: Settings, port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESCUCHA_")}
    env.update(
        {
            "ESCUCHA_DATABASE_URL": settings.database_url,
            "ESCUCHA_SECRET_KEY": settings.secret_key,
            "ESCUCHA_ENVIRONMENT": "test",
            "ESCUCHA_PORT": str(port),
            "ESCUCHA_HOST": "127.0.0.1",
            "ESCUCHA_WORKER_POLL_S": "0.2",
            "ESCUCHA_OUTBOX_DIR": str(settings.outbox_dir),
        }
    )
    env.update(extra)
    return env


def start_server(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen[bytes]:
    with log.open("ab") as fh:
        return subprocess.Popen(
            [sys.executable, "-m", "escucha", "serve", *args], env=env, stdout=fh, stderr=fh
        )


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``escucha worker`` alone (the server then runs with ``--no-worker``)."""
    with log.open("ab") as fh:
        return subprocess.Popen(
            [sys.executable, "-m", "escucha", "worker"], env=env, stdout=fh, stderr=fh
        )


def kill(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL: no handler runs, nothing is flushed or rolled back by the process itself."""
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    process.wait(10)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL when it does not end in time."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def wait_ready(
    url: str, process: subprocess.Popen[bytes], log: Path, timeout_s: float = 180
) -> None:
    """Until ``/healthz`` answers 200. A server that never does is stopped before the error is
    raised: left running, its process would outlive the test and its ``Popen`` would warn
    (an error here) in whichever test runs next on the same worker."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    stop(process)
    raise RuntimeError(
        f"server not ready in {timeout_s}s: {log.read_text(errors='replace')[-3000:]}"
    )


@contextmanager
def running_server(settings: Settings, tmp_path: Path, **extra: str) -> Iterator[LiveServer]:
    """``escucha serve`` (with its worker) on a free port until the block ends; ``extra``:
    more settings (``ESCUCHA_...``)."""
    port = free_port()
    env = server_env(settings, port, **extra)
    log = tmp_path / "server.log"
    process = start_server(env, log)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, process, log)
        yield LiveServer(url, process, env, log)
    finally:
        stop(process)


@pytest.fixture
def live_server(settings: Settings, tmp_path: Path) -> Iterator[LiveServer]:
    with running_server(settings, tmp_path) as server:
        yield server


@pytest.fixture
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("Chromium is missing at /usr/bin/chromium; `make test` installs it")
        pytest.skip("Chromium is not installed at /usr/bin/chromium (run `make test` as root)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
