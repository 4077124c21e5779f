"""Public screens for customers: the complaint and request forms and the status page (P2, P5, P6).

No login. ``/complaints/new`` registers a complaint in the same transaction as the request
and shows its number and verification code; ``/requests/new`` does the same for any request.
``/status`` asks for the number *and* the code, tells a mistyped check digit as a typo,
answers the same for an unknown number and a wrong code, and is rate limited per IP address
(``ESCUCHA_STATUS_RATE_PER_MIN`` failed lookups a minute).
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.exc import DataError, DBAPIError, InterfaceError, InternalError, OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeout
from sqlalchemy.orm import Session

from escucha.auth import service as auth_service
from escucha.auth.api import DB, Caller, ClockDep, Public
from escucha.errors import NotFound
from escucha.notifications.messages import greeting_phrase, when_phrase
from escucha.tickets import handling, idempotency, merge, opening, service, status_page, uploads
from escucha.tickets.models import Ticket
from escucha.tickets.rules import check_digit_typo, speech_groups
from escucha.web.i18n import gettext, pick_language
from escucha.web.render import render

router = APIRouter(include_in_schema=False)
log = logging.getLogger("escucha.web.customer")

KINDS = ("query", "fault", "request", "complaint")
_FILED = "filed_ticket"
_VIEWING = "status_ticket"


def _lang(request: Request) -> str:
    return pick_language(request)


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _form(
    request: Request,
    *,
    kind: str | None,
    values: dict[str, str] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "customer/complaint_form.html",
        {
            "fixed_kind": kind,
            "kinds": KINDS,
            "values": values or {},
            "error": error,
            "max_chars": service.MAX_DESCRIPTION,
            "max_files": uploads.MAX_FILES,
            "max_file_bytes": request.app.state.settings.max_upload_bytes,
            "max_file_mb": request.app.state.settings.max_upload_bytes // (1024 * 1024),
            "allowed_types": sorted(set(uploads.ALLOWED.values())),
            "form_key": secrets.token_urlsafe(16),
            "action": "/complaints/new" if kind == "complaint" else "/requests/new",
        },
        status_code,
    )


@router.get("/complaints/new")
def complaint_form(request: Request, _caller: Public) -> Response:
    """The complaint form: nothing is required, a complaint always gets a number."""
    return _form(request, kind="complaint")


@router.get("/requests/new")
def request_form(request: Request, _caller: Public) -> Response:
    """A web form for any request (query, fault, request or complaint)."""
    return _form(request, kind=None)


def _file(
    request: Request,
    caller: Caller,
    db: Session,
    now: datetime,
    *,
    kind: str | None,
    values: dict[str, str],
    files: list[UploadFile],
) -> Response:
    lang = _lang(request)
    sent = _read_files(files, request.app.state.settings.max_upload_bytes)
    key = hashed = None
    if values["form_key"]:
        scope = idempotency.caller_scope(
            via=caller.via,
            user_id=caller.user.id if caller.user is not None else None,
            authorization=request.headers.get("authorization", ""),
            session=request.session,
        )
        key = idempotency.scoped_key("web", scope, values["form_key"])
        hashed = idempotency.request_hash(
            {k: v for k, v in values.items() if k != "form_key"} | {"kind": kind or ""}
        )
    intake = opening.Intake(
        channel="web",
        description=values["description"],
        kind=kind,
        subject=values["subject"],
        name=values["name"],
        email=values["email"] or None,
        phone=values["phone"] or None,
        language=lang,
        request_key=key,
        request_hash=hashed,
    )
    base_url = request.app.state.settings.public_url
    try:
        if kind == "complaint":
            opened = opening.file_complaint(db, intake, now=now, base_url=base_url)
        else:
            opened = opening.open_ticket(db, intake, now=now, base_url=base_url, actor="customer")
        refused: list[uploads.Refused] = []
        if opened.created and sent:
            _kept, refused = uploads.keep_files(
                db,
                opened.ticket,
                None,
                sent,
                now=now,
                max_bytes=request.app.state.settings.max_upload_bytes,
            )
        filed = {
            "id": opened.ticket.id,
            "notified": opened.notification.channel if opened.notification else "",
            "address": opened.notification.to_address if opened.notification else "",
            "refused": [[r.filename, r.reason] for r in refused],
        }
        # Committed here, not after the response is chosen, so that a database fault still
        # gives the customer their form back with their text.
        db.commit()
    except DBAPIError as exc:
        if isinstance(exc, DataError):
            raise
        return _database_fault(request, db, kind=kind, values=values, lang=lang)
    except SQLAlchemyTimeout:
        return _database_fault(request, db, kind=kind, values=values, lang=lang)
    except idempotency.IdempotencyKeyReused:
        # The same form sent again with other text (the browser's back button): keep the
        # text, give the form a new key, and let the customer send it as a new case.
        db.rollback()
        message = gettext(
            lang,
            "This form was already sent with another text. Your text is still here: "
            "check it and send it again to register it as a new case.",
        )
        fresh = {**values, "form_key": ""}
        return _form(request, kind=kind, values=fresh, error=message, status_code=409)
    request.session[_FILED] = filed
    request.session[_VIEWING] = filed["id"]
    return RedirectResponse("/complaints/done", status_code=303)


def _database_fault(
    request: Request, db: Session, *, kind: str | None, values: dict[str, str], lang: str
) -> Response:
    """The form again, with the customer's text, in their language (503): nothing was
    written, and sending it again with the same form key cannot register it twice."""
    log.exception("the database failed while a public form was filed")
    with contextlib.suppress(Exception):
        db.rollback()
    message = gettext(
        lang,
        "We could not register it because of a fault on our side. Nothing was lost: your "
        "text is still here and is safe to send again in a few minutes.",
    )
    response = _form(request, kind=kind, values=values, error=message, status_code=503)
    response.headers["Retry-After"] = "60"
    return response


def _values(
    description: Annotated[str, Form()] = "",
    subject: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
    phone: Annotated[str, Form()] = "",
    form_key: Annotated[str, Form(max_length=64)] = "",
) -> dict[str, str]:
    """The fields that filing a complaint and filing a request share."""
    fields = {
        "description": description,
        "subject": subject,
        "name": name,
        "email": email,
        "phone": phone,
        "form_key": form_key,
    }
    return {k: v or "" for k, v in fields.items()}


FiledValues = Annotated[dict[str, str], Depends(_values)]
FiledFiles = Annotated[list[UploadFile], File()]


def _read_files(files: list[UploadFile], max_bytes: int) -> list[uploads.Upload]:
    """The files sent, each read no further than one byte past the limit (then refused);
    all of them together are bounded by the route's body limit (ADR 18)."""
    out: list[uploads.Upload] = []
    for up in files:
        if not up.filename:
            continue  # the file field left empty
        out.append(uploads.Upload(up.filename, up.file.read(max_bytes + 1)))
    return out


@router.post("/complaints/new")
def file_complaint(
    request: Request,
    caller: Public,
    db: DB,
    clock: ClockDep,
    values: FiledValues,
    attachments: FiledFiles = [],  # noqa: B006 - FastAPI copies the default
) -> Response:
    return _file(
        request, caller, db, clock.now(), kind="complaint", values=values, files=attachments
    )


@router.post("/requests/new")
def file_request(
    request: Request,
    caller: Public,
    db: DB,
    clock: ClockDep,
    values: FiledValues,
    kind: Annotated[str, Form()] = "",
    attachments: FiledFiles = [],  # noqa: B006 - FastAPI copies the default
) -> Response:
    values = {**values, "kind": kind or ""}
    chosen = kind if kind in KINDS else None
    return _file(request, caller, db, clock.now(), kind=chosen, values=values, files=attachments)


@router.get("/complaints/done")
def filed(request: Request, _caller: Public, db: DB, clock: ClockDep) -> Response:
    """The number and code of what was just filed, with the next promised date."""
    info = request.session.get(_FILED)
    ticket = _ticket(db, info.get("id")) if isinstance(info, dict) else None
    if ticket is None or not isinstance(info, dict):
        return RedirectResponse("/complaints/new", status_code=303)
    view = status_page.customer_view(db, ticket)
    return render(
        request,
        "customer/complaint_done.html",
        {
            "ticket": ticket,
            "groups": speech_groups(ticket.number),
            "view": view,
            "next_when": _next_when(view, clock.now(), _lang(request)),
            "notified": info.get("notified", ""),
            "address": info.get("address", ""),
            "refused": info.get("refused", []),
        },
    )


def _next_when(view: status_page.StatusView, now: datetime, lang: str) -> str | None:
    if view.next_due is None or view.next_due < now:
        return None
    return when_phrase(view.next_due, now=now, tz=view.timezone, lang=lang)


def _status_form(
    request: Request,
    *,
    number: str = "",
    error: bool = False,
    typo: bool = False,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "customer/status_form.html",
        {"number": number, "error": error, "typo": typo},
        status_code,
    )


@router.get("/status")
def status_form(request: Request, _caller: Public, number: str = "") -> Response:
    """Ask for the ticket number and the verification code."""
    return _status_form(request, number=service.one_line(number, 40))


@router.post("/status")
def status_lookup(
    request: Request,
    _caller: Public,
    db: DB,
    clock: ClockDep,
    number: Annotated[str, Form(max_length=64)] = "",
    code: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    now = clock.now()
    key = f"status:{_client(request)}"
    per_minute = request.app.state.settings.status_rate_per_min
    auth_service.check_rate(db, key, now=now, per_minute=per_minute)
    if check_digit_typo(service.safe_text(number)[:64]):
        # A typo, told as such: the check digit follows from the other digits, so saying it
        # is wrong tells nothing about which cases exist. It counts as a failed lookup.
        auth_service.record_failure(db, key, now=now)
        return _status_form(
            request, number=service.one_line(number, 40), typo=True, status_code=422
        )
    ticket = status_page.find_for_customer(db, number, code)
    if ticket is None:
        auth_service.record_failure(db, key, now=now)
        # The same page and status whether the number is unknown or the code is wrong.
        return _status_form(
            request, number=service.one_line(number, 40), error=True, status_code=404
        )
    request.session[_VIEWING] = merge.surviving(db, ticket).id  # a merged number: its survivor
    return RedirectResponse("/status/view", status_code=303)


def _ticket(db: Session, ticket_id: object) -> Ticket | None:
    """The case whose id this browser's session keeps (``None`` once it is gone)."""
    if not isinstance(ticket_id, int):
        return None
    try:
        return service.get_ticket(db, ticket_id)
    except NotFound:
        return None


def _viewing(request: Request, db: Session) -> Ticket | None:
    return _ticket(db, request.session.get(_VIEWING))


@router.get("/status/view")
def status_view(request: Request, _caller: Public, db: DB, clock: ClockDep) -> Response:
    """Status, the customer-visible history and the next promised date of the case."""
    ticket = _viewing(request, db)
    if ticket is None:
        return RedirectResponse("/status", status_code=303)
    view = status_page.customer_view(db, ticket)
    now = clock.now()
    lang = _lang(request)
    context: dict[str, Any] = {
        "view": view,
        "next_when": _next_when(view, now, lang),
        "greeting": greeting_phrase(now=now, tz=view.timezone, lang=lang),
        "when": lambda at: (
            when_phrase(at, now=now, tz=view.timezone, lang=lang) if at >= now else None
        ),
        "stamp": lambda at: at.astimezone(ZoneInfo(view.timezone)).strftime("%d/%m/%Y %H:%M"),
        "max_chars": service.MAX_DESCRIPTION,
    }
    return render(request, "customer/status_view.html", context)


@router.post("/status/message")
def status_message(
    request: Request,
    _caller: Public,
    db: DB,
    clock: ClockDep,
    body: Annotated[str, Form()] = "",
) -> Response:
    """The customer adds to their case (the description asked for, new details)."""
    ticket = _viewing(request, db)
    if ticket is None:
        return RedirectResponse("/status", status_code=303)
    text = service.safe_text(body)
    if text.strip():
        try:
            handling.add_customer_message(db, ticket, text, now=clock.now(), channel="web")
            db.commit()
        except (OperationalError, InternalError, InterfaceError, SQLAlchemyTimeout):
            return _kept_text(request, db, text, "/status/message")
    return RedirectResponse("/status/view", status_code=303)


def _kept_text(request: Request, db: Session, text: str, action: str) -> Response:
    """A database fault while a customer added text: the text back, ready to send (503)."""
    log.exception("the database failed while a customer wrote on their case")
    with contextlib.suppress(Exception):
        db.rollback()
    lang = _lang(request)
    message = gettext(
        lang,
        "We could not register it because of a fault on our side. Nothing was lost: your "
        "text is still here and is safe to send again in a few minutes.",
    )
    context = {
        "status": 503,
        "code": "database_unavailable",
        "detail": message,
        "kept_text": text,
        "kept_action": action,
    }
    response = render(request, "error.html", context, 503)
    response.headers["Retry-After"] = "60"
    return response


@router.post("/status/appeal")
def status_appeal(
    request: Request,
    _caller: Public,
    db: DB,
    clock: ClockDep,
    body: Annotated[str, Form()] = "",
) -> Response:
    """Appeal the answer to a complaint."""
    ticket = _viewing(request, db)
    if ticket is None:
        return RedirectResponse("/status", status_code=303)
    handling.appeal(
        db,
        ticket,
        service.safe_text(body),  # kept whole: a long appeal is attached as a file
        now=clock.now(),
        base_url=request.app.state.settings.public_url,
    )
    return RedirectResponse("/status/view", status_code=303)


@router.post("/status/leave")
def status_leave(request: Request, _caller: Public) -> Response:
    """Forget the case in this browser."""
    request.session.pop(_VIEWING, None)
    request.session.pop(_FILED, None)
    return RedirectResponse("/status", status_code=303)
