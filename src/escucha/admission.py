"""Calls first: requests admitted at the door by lane, and the calls' own worker threads (ADR 26).

Two lanes share one process:

- **calls**: Twilio's webhooks (``/telephony/``) and the caller's page (``/phone`` and its
  voice signalling). A caller waits on the line for every one of these answers.
- **others**: desks, wallboards, reports, the API, static files.

Each lane has its own number of requests admitted into the application at once. A call waits
at the door only behind other calls. A request of the other lane waits at most
:attr:`Lanes.wait_s` for a place and is then answered ``503`` with ``Retry-After``: a burst of
page loads is turned away instead of queueing in front of a caller.

Blocking work (the database) runs in worker threads. The calls lane has its own
:class:`anyio.CapacityLimiter`; everything else shares AnyIO's default limiter, which
:meth:`Lanes.start` narrows so that the other lane's threads and requests together can never
hold every pooled database connection: a call never waits for a connection, a thread or a
place at the door that a desk holds. :func:`run_in_lane` and :class:`CallRoute` put blocking
work on the threads of the request's lane.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio.to_thread
from anyio import CapacityLimiter
from fastapi.routing import APIRoute
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from escucha.bodylimit import answer_at_door

T = TypeVar("T")

#: Paths of the calls lane: a provider's webhooks and the caller's page.
CALL_PREFIXES = ("/telephony/", "/phone/")
CALL_PATHS = frozenset({"/phone"})
#: AnyIO's default number of worker threads.
DEFAULT_THREADS = 40

#: The worker threads of the current request's lane (``None``: AnyIO's default limiter).
_threads: ContextVar[CapacityLimiter | None] = ContextVar("escucha_lane_threads", default=None)
#: The threads that end admitted requests' transactions (``None``: the lane's).
_ends: ContextVar[CapacityLimiter | None] = ContextVar("escucha_lane_ends", default=None)


def is_call(path: str) -> bool:
    """Whether a request to ``path`` belongs to the calls lane."""
    return path in CALL_PATHS or path.startswith(CALL_PREFIXES)


def _connections(engine: Engine) -> int:
    pool = engine.pool
    size = getattr(pool, "size", None)
    overflow = max(int(getattr(pool, "_max_overflow", 0)), 0)
    return (size() if callable(size) else 5) + overflow


@dataclass
class Lanes:
    """How many requests of each lane are admitted at once, and their threads.

    Every admitted request may hold one pooled connection, and every worker thread of the
    other lane one more (a live stream's look opens its own short session). The pool is
    shared out so that ``calls + 2 * others + 1`` (the job worker) never exceeds it.
    """

    calls: int
    others: int
    #: Seconds a request of the other lane waits for a place before ``503``.
    wait_s: float = 5.0
    #: What ``Retry-After`` says when the other lane is full.
    retry_after_s: int = 2
    _call_slots: asyncio.Semaphore | None = field(default=None, repr=False)
    _other_slots: asyncio.Semaphore | None = field(default=None, repr=False)
    _call_threads: CapacityLimiter | None = field(default=None, repr=False)
    _end_threads: CapacityLimiter | None = field(default=None, repr=False)
    _loop: asyncio.AbstractEventLoop | None = field(default=None, repr=False)

    @classmethod
    def for_engine(cls, engine: Engine, threads: int = DEFAULT_THREADS) -> Lanes:
        usable = max(_connections(engine) - 2, 2)  # the job worker's, and one spare
        calls = max(1, min(usable // 3, threads))
        others = max(1, min((usable - calls) // 2, threads))
        return cls(calls=calls, others=others)

    def start(self) -> None:
        """Make the semaphores and limiters in the running event loop; the default thread
        limiter (every thread outside the calls lane) is narrowed to ``others``."""
        self._loop = asyncio.get_running_loop()
        self._call_slots = asyncio.Semaphore(self.calls)
        self._other_slots = asyncio.Semaphore(self.others)
        self._call_threads = CapacityLimiter(self.calls)
        self._end_threads = CapacityLimiter(self.calls + self.others)
        anyio.to_thread.current_default_thread_limiter().total_tokens = self.others

    def _ready(
        self,
    ) -> tuple[asyncio.Semaphore, asyncio.Semaphore, CapacityLimiter, CapacityLimiter]:
        if (
            self._loop is not asyncio.get_running_loop()  # the first request of this loop
            or self._call_slots is None
            or self._other_slots is None
            or self._call_threads is None
            or self._end_threads is None
        ):
            self.start()
            return self._ready()
        return self._call_slots, self._other_slots, self._call_threads, self._end_threads


async def run_in_lane(func: Callable[..., T], *args: Any) -> T:
    """``func(*args)`` in a worker thread of the current request's lane."""
    return await anyio.to_thread.run_sync(func, *args, limiter=_threads.get())


async def run_end(func: Callable[..., T], *args: Any) -> T:
    """``func(*args)``, the end of an admitted request's transaction, on threads of their own:
    one per admitted request, so a transaction that holds locks (on SQLite, the writer lock)
    never queues for its commit behind live streams' looks or other requests."""
    return await anyio.to_thread.run_sync(func, *args, limiter=_ends.get() or _threads.get())


def on_lane_threads(func: Callable[..., T]) -> Callable[..., Any]:
    """A plain endpoint as a coroutine that runs it on the threads of its request's lane
    (FastAPI reads the parameters through ``__wrapped__``).

    The request's database session is committed (or rolled back, on an error) in the same
    thread as soon as the endpoint returns: a write transaction (its locks; on SQLite, the
    database's one writer lock) is not held while the request waits for the event loop and
    another thread to end it."""

    def work(args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
        sessions = [v for v in kwargs.values() if isinstance(v, Session)]
        try:
            result = func(*args, **kwargs)
            for session in sessions:
                if session.in_transaction():
                    session.commit()
        except BaseException:
            for session in sessions:
                session.rollback()  # its locks go now, not after another wait for a thread
            raise
        return result

    @functools.wraps(func)
    async def run(*args: Any, **kwargs: Any) -> T:
        return await run_in_lane(work, args, kwargs)

    return run


class CallRoute(APIRoute):
    """A route of the calls lane: a plain endpoint runs on the calls' own worker threads."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if inspect.isfunction(endpoint) and not inspect.iscoroutinefunction(endpoint):
            endpoint = on_lane_threads(endpoint)
        super().__init__(path, endpoint, **kwargs)


class Admission:
    """At most ``lanes.calls`` calls and ``lanes.others`` other HTTP requests inside the
    application at once; the others wait at the door holding nothing.

    A request can hold a database connection (and the locks of its transaction) while it
    waits for a worker thread between its dependencies and its endpoint. With more requests
    inside than threads or pooled connections, every thread can end up waiting for a
    connection or a lock held by a request that is itself waiting for a thread: the server
    stalls until timeouts fire. Admitting no more requests than both stops that. A streaming
    response (server-sent events) leaves the count once its headers are sent.
    """

    def __init__(self, app: ASGIApp, lanes: Lanes) -> None:
        self.app = app
        self.lanes = lanes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        call_slots, other_slots, call_threads, end_threads = self.lanes._ready()
        if is_call(scope["path"]):
            slots = call_slots
            await slots.acquire()
            reset = _threads.set(call_threads)
        else:
            slots = other_slots
            if slots.locked():
                try:
                    await asyncio.wait_for(slots.acquire(), self.lanes.wait_s)
                except TimeoutError:
                    await _busy(scope, send, self.lanes.retry_after_s)
                    return
            else:
                await slots.acquire()  # a free place: taken at once
            reset = _threads.set(None)
        reset_ends = _ends.set(end_threads)
        held = True

        async def watch(message: Message) -> None:
            nonlocal held
            if held and message["type"] == "http.response.start":
                headers = dict(message.get("headers") or ())
                if b"text/event-stream" in headers.get(b"content-type", b""):
                    held = False
                    slots.release()
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            _ends.reset(reset_ends)
            _threads.reset(reset)
            if held:
                slots.release()


async def _busy(scope: Scope, send: Send, retry_after_s: int) -> None:
    """``503`` with ``Retry-After``: the other lane is full."""
    message = "the service is busy answering calls; try again in a few seconds"
    retry = [(b"retry-after", str(retry_after_s).encode())]
    await answer_at_door(scope, send, 503, "busy", message, retry)
