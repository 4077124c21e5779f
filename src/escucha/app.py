"""``create_app(settings)``: the ASGI application, with nothing done at import time."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CollectorRegistry, Counter, Histogram
from sqlalchemy.exc import DataError, InterfaceError, InternalError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from escucha.admission import Admission, Lanes, is_call
from escucha.api import api_router
from escucha.bodylimit import BodyLimit
from escucha.clock import Clock, SystemClock
from escucha.config import Settings
from escucha.db.engine import make_engine, make_sessionmaker
from escucha.db.registry import load_models
from escucha.discovery import import_all, package_modules
from escucha.errors import EscuchaError
from escucha.logs import request_id_var
from escucha.ops import router as ops_router
from escucha.voice.desks import OpenDesks
from escucha.voice.rules import parse_sip_ws_url, sip_ws_origin
from escucha.web import STATIC
from escucha.web.i18n import gettext, pick_language
from escucha.web.render import render

log = logging.getLogger("escucha.http")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self' blob: data:; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'self'"
)


@dataclass
class Metrics:
    registry: CollectorRegistry
    requests: Counter
    latency: Histogram

    @classmethod
    def create(cls) -> Metrics:
        registry = CollectorRegistry()
        return cls(
            registry,
            Counter(
                "escucha_http_requests",
                "HTTP requests by route and status",
                ["method", "route", "status"],
                registry=registry,
            ),
            Histogram(
                "escucha_http_request_seconds",
                "HTTP request latency",
                ["route"],
                registry=registry,
            ),
        )


DATABASE_FAULT = (
    "The service is not available right now because of a fault on our side. Nothing was "
    "half saved: please try again in a few minutes."
)


class Observe:
    """Every HTTP answer gets its request id and the security headers, and is counted, timed
    and logged once its headers are out (a plain ASGI middleware: nothing is buffered)."""

    def __init__(self, app: ASGIApp, metrics: Metrics, csp: str = CSP) -> None:
        self.app = app
        self.metrics = metrics
        self.csp = csp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = ""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                rid = value.decode("latin-1")[:64]
                break
        rid = rid or uuid.uuid4().hex
        token = request_id_var.set(rid)
        start = time.perf_counter()

        async def stamp(message: Message) -> None:
            if message["type"] == "http.response.start":
                elapsed = time.perf_counter() - start
                status = message["status"]
                route = getattr(scope.get("route"), "path", "<unmatched>")
                self.metrics.requests.labels(scope["method"], route, str(status)).inc()
                self.metrics.latency.labels(route).observe(elapsed)
                headers = MutableHeaders(scope=message)
                headers["X-Request-ID"] = rid
                csp = headers.setdefault("Content-Security-Policy", self.csp)
                headers["X-Content-Type-Options"] = "nosniff"
                if "frame-ancestors 'none'" in csp:  # a page made to be embedded names its hosts
                    headers["X-Frame-Options"] = "DENY"
                headers["Referrer-Policy"] = "same-origin"
                headers["Permissions-Policy"] = "camera=(), geolocation=(), microphone=(self)"
                log.info(
                    "request",
                    extra={
                        "method": scope["method"],
                        "route": route,
                        "status": status,
                        "ms": round(elapsed * 1000, 1),
                    },
                )
            await send(message)

        try:
            await self.app(scope, receive, stamp)
        finally:
            request_id_var.reset(token)


#: What a page says for an HTTP error, translated (msgids of the Babel catalogs).
HTTP_PAGE_ERRORS = {
    404: "This page does not exist. Check the address, or start again from the home page.",
    405: "This page cannot do that. Go back and try again.",
}


def _is_api(request: Request) -> bool:
    path = request.url.path
    return path.startswith(("/api/", "/auth/", "/telephony/"))


def _error_response(request: Request, status: int, code: str, detail: str) -> Response:
    if _is_api(request) or "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"error": code, "detail": detail}, status_code=status)
    if status == 401:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    return render(request, "error.html", {"status": status, "code": code, "detail": detail}, status)


def create_app(settings: Settings, *, clock: Clock | None = None) -> FastAPI:
    """Build the application for ``settings``; ``clock`` defaults to the wall clock."""
    engine = make_engine(settings)
    load_models()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        worker = None
        if settings.run_worker:
            # Imported only when this process runs a worker thread.
            from escucha.jobs.worker import Worker

            worker = Worker(app.state.session_factory, settings, app.state.clock, "web")
            worker.start_thread()
        pbx_threads = []
        if settings.run_worker and (settings.ari_url or settings.ami_host):
            # Imported only when this process drives or observes a PBX (ADR 22).
            from escucha.asterisk.consumer import start_pbx_threads

            pbx_threads = start_pbx_threads(app.state.session_factory, settings, app.state.clock)
        try:
            yield
        finally:
            app.state.desks.stop()
            for thread in pbx_threads:
                thread.stop()
            if worker is not None:
                worker.stop()
            engine.dispose()

    app = FastAPI(
        title="escucha",
        version="0.1.0",
        description="An open-source contact center that keeps its word.",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = make_sessionmaker(engine)
    app.state.clock = clock or SystemClock()
    app.state.metrics = Metrics.create()
    app.state.lanes = Lanes.for_engine(engine)
    app.state.desks = OpenDesks(app.state.session_factory, app.state.clock)

    @app.exception_handler(EscuchaError)
    async def _escucha_error(request: Request, exc: EscuchaError) -> Response:
        return _error_response(request, exc.status_code, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        parts = []
        for err in exc.errors():
            where = ".".join(str(x) for x in err.get("loc", ()) if x != "body")
            parts.append(f"{where}: {err.get('msg')}")
        return _error_response(request, 422, "invalid_input", "; ".join(parts))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        detail = str(exc.detail)
        wants_json = _is_api(request) or "application/json" in request.headers.get("accept", "")
        if exc.status_code in HTTP_PAGE_ERRORS and not wants_json:
            # A page says it in the page's language (not Starlette's "Not Found").
            detail = gettext(pick_language(request), HTTP_PAGE_ERRORS[exc.status_code])
        return _error_response(request, exc.status_code, code, detail)

    @app.exception_handler(OverflowError)
    @app.exception_handler(DataError)
    async def _out_of_range(request: Request, exc: Exception) -> Response:
        # A number or text the database cannot hold (an id past its integer range): the
        # caller's input, not a fault of the server.
        return _error_response(
            request, 422, "invalid_input", "a value is out of range for its field"
        )

    @app.exception_handler(OperationalError)
    @app.exception_handler(InternalError)
    @app.exception_handler(InterfaceError)
    @app.exception_handler(PoolTimeout)
    async def _database_fault(request: Request, exc: Exception) -> Response:
        # The database cannot be read or written (read-only, full disk, gone): the request's
        # transaction was rolled back, so nothing is half written. Said in the page's language.
        log.exception("database fault")
        lang = pick_language(request)
        detail = gettext(lang, DATABASE_FAULT)
        response = _error_response(request, 503, "database_unavailable", detail)
        response.headers["Retry-After"] = "60"
        return response

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error")
        return _error_response(
            request, 500, "internal_error", "something went wrong; it has been logged"
        )

    # the desk's SIP phone talks to the PBX's WebSocket (ADR 23)
    sip_origin = sip_ws_origin(parse_sip_ws_url(settings.sip_ws_url))
    page_csp = CSP.replace("connect-src 'self'", f"connect-src 'self' {sip_origin}".rstrip())
    app.add_middleware(Observe, metrics=app.state.metrics, csp=page_csp)
    app.add_middleware(Admission, lanes=app.state.lanes)
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key,
        session_cookie="escucha_session",
        max_age=settings.session_max_age_s,
        same_site="lax",
        https_only=settings.cookies_secure,
    )
    if settings.trusted_proxy_list:
        # Inside the body limit only: the client address and scheme every later layer sees are the
        # ones the named proxies forwarded; anyone else's X-Forwarded-* headers are ignored.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxy_list)

    app.add_middleware(BodyLimit, settings=settings)  # outermost: before anything reads a body
    screens = [
        router
        for module in import_all(package_modules("escucha.web"))
        if isinstance(router := getattr(module, "router", None), APIRouter)
    ]
    # Calls first in the route table too: a request is matched against the routes in order,
    # so a webhook or the caller's page is found at once instead of after every other route.
    for router in screens:
        if _serves_calls(router):
            app.include_router(router)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    app.include_router(ops_router)
    app.include_router(api_router())
    for router in screens:
        if not _serves_calls(router):
            app.include_router(router)
    return app


def _serves_calls(router: APIRouter) -> bool:
    """Whether ``router`` holds routes of the calls lane (``escucha.admission``)."""
    return any(is_call(getattr(route, "path", "")) for route in router.routes)
