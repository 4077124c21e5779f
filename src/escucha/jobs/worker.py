"""The worker loop: runs due jobs and enqueues periodic ones, until told to stop."""

from __future__ import annotations

import logging
import threading

from sqlalchemy.orm import Session, sessionmaker

from escucha.clock import Clock
from escucha.config import Settings
from escucha.jobs.service import enqueue_periodic, run_one

log = logging.getLogger(__name__)


class Worker:
    def __init__(
        self, factory: sessionmaker[Session], settings: Settings, clock: Clock, name: str = ""
    ) -> None:
        self.factory = factory
        self.settings = settings
        self.clock = clock
        self.name = name
        self.stop_event = threading.Event()
        self._thread: threading.Thread | None = None

    def run_forever(self) -> None:
        log.info("worker started")
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
        log.info("worker stopped")

    def start_thread(self) -> None:
        self._thread = threading.Thread(target=self.run_forever, name="escucha-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self.stop_event.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
