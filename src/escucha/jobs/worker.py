"""The worker loop: runs due jobs and enqueues periodic ones, until told to stop.

Each worker has an identity of its own (name, host, process, random part) and a heartbeat
thread that keeps extending the lock of the job it runs; when the process dies the lock lapses
after ``job_lock_s`` and another worker takes the job again.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid

from sqlalchemy.orm import Session, sessionmaker

from escucha.clock import Clock
from escucha.config import Settings
from escucha.jobs.service import enqueue_periodic, renew_locks, run_one

log = logging.getLogger(__name__)


class Worker:
    def __init__(
        self, factory: sessionmaker[Session], settings: Settings, clock: Clock, name: str = ""
    ) -> None:
        self.factory = factory
        self.settings = settings
        self.clock = clock
        self.name = (
            f"{name or 'worker'}@{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        )
        self.stop_event = threading.Event()
        self._thread: threading.Thread | None = None

    def run_forever(self) -> None:
        """Run jobs until ``stop_event`` is set, with the heartbeat beside."""
        log.info("worker started", extra={"worker": self.name})
        heartbeat = threading.Thread(
            target=self.heartbeat_forever, name="escucha-worker-heartbeat", daemon=True
        )
        heartbeat.start()
        while not self.stop_event.is_set():
            try:
                enqueue_periodic(self.factory, self.clock)
                while not self.stop_event.is_set() and run_one(
                    self.factory, self.settings, self.clock, self.name
                ):
                    pass
            except Exception:
                log.exception("worker loop error")
            self.stop_event.wait(self.settings.worker_poll_s)
        heartbeat.join(5)
        log.info("worker stopped")

    def heartbeat_forever(self) -> None:
        """Renew this worker's job locks every third of ``job_lock_s``."""
        every_s = self.settings.job_lock_s / 3
        while not self.stop_event.wait(every_s):
            try:
                renew_locks(self.factory, self.name, self.clock.now(), self.settings.job_lock_s)
            except Exception:
                log.exception("worker heartbeat error")

    def start_thread(self) -> None:
        self._thread = threading.Thread(target=self.run_forever, name="escucha-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self.stop_event.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
