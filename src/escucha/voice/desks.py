"""The agent desks open in this process, marked alive together (ADR 16).

An open desk holds its softphone's live stream (``/agent/voice/events``). The stream says when
it opens and when it ends (closed, cancelled by the client's disconnect, or its keep-alive
write failed): :meth:`OpenDesks.holding`. One thread per process, running while any desk is
open, marks all of them alive every :data:`~escucha.voice.rules.DESK_MARK_EVERY_S` seconds in
one statement (:func:`escucha.voice.service.desks_alive`), so a floor's desks cost one write
per process per interval instead of one request per desk every two seconds. A desk whose
stream ended is no longer marked: the sweep notices it after the same graces as before.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session, sessionmaker

from escucha.clock import Clock
from escucha.voice import rules as R
from escucha.voice import service

log = logging.getLogger(__name__)


class OpenDesks:
    """The users whose desk stream is open in this process, and the thread that marks them."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        clock: Clock,
        *,
        every_s: float = R.DESK_MARK_EVERY_S,
    ) -> None:
        self.factory = factory
        self.clock = clock
        self.every_s = every_s
        self._lock = threading.Lock()
        self._open: Counter[int] = Counter()  # an agent may have the desk open in two tabs
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    @contextmanager
    def holding(self, user_id: int) -> Iterator[None]:
        """While the body runs (a desk's live stream), ``user_id``'s desk is marked alive."""
        self.opened(user_id)
        try:
            yield
        finally:
            self.closed(user_id)

    def opened(self, user_id: int) -> None:
        with self._lock:
            self._open[user_id] += 1
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._run, name="open-desks", daemon=True)
                self._thread.start()

    def closed(self, user_id: int) -> None:
        with self._lock:
            self._open[user_id] -= 1
            if self._open[user_id] <= 0:
                del self._open[user_id]

    def users(self) -> list[int]:
        """The users whose desk is open here now."""
        with self._lock:
            return sorted(self._open)

    def mark(self) -> int:
        """Mark every desk open here alive now: one statement, one transaction."""
        users = self.users()
        if not users:
            return 0
        with self.factory() as session:
            marked = service.desks_alive(session, users, now=self.clock.now())
            session.commit()
        return marked

    def stop(self) -> None:
        """No more marks (the process is stopping)."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            with self._lock:
                if not self._open:  # the last desk closed: the next one starts a thread
                    self._thread = None
                    return
            try:
                self.mark()
            except Exception:  # a database gone for a moment: mark again at the next interval
                log.warning("open desks: cannot mark them alive", exc_info=True)
