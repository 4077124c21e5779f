"""The harness itself: a server that never gets ready is stopped, not left to a later test."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.system.conftest import free_port, wait_ready

pytestmark = pytest.mark.system


def test_a_server_that_never_answers_is_stopped_before_the_error(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_text("starting\n")
    silent = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        with pytest.raises(RuntimeError, match=r"server not ready in 0\.5s: starting"):
            wait_ready(f"http://127.0.0.1:{free_port()}", silent, log, timeout_s=0.5)
        assert silent.poll() is not None  # reaped: nothing outlives the test
    finally:
        if silent.poll() is None:
            silent.kill()
            silent.wait()
