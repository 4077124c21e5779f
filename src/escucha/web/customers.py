"""Customer records for the team: list and search, the record with its whole history, edits,
contact points, merging two records, and the data protection rights (ADR 27).

Agents open the customers within their reach (ADR 17: a contact or case of theirs);
supervisors and admins every one. Exporting and erasing a customer's data is for supervisors
and admins; both are audited.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Annotated
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from escucha.auth.api import DB, AgentCaller, ClockDep, SupervisorCaller
from escucha.auth.models import User
from escucha.contacts import customers
from escucha.contacts.models import Customer
from escucha.errors import EscuchaError
from escucha.flows import customers as records
from escucha.org import service as org_service
from escucha.tickets import planning
from escucha.tickets import service as tickets
from escucha.voice.service import recordings_dir
from escucha.web.i18n import gettext, pick_language
from escucha.web.render import render

router = APIRouter(include_in_schema=False)


def _region(db: Session) -> str:
    return planning.org_context(db).region


def _page(
    request: Request,
    db: Session,
    user: User,
    customer: Customer,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    zone = ZoneInfo(planning.org_context(db).timezone)
    whole = records.history(db, customer.id)
    queues = {q.name: q.display_name for q in org_service.queues(db)}
    return render(
        request,
        "customers/customer.html",
        {
            "c": customer,
            "h": whole,
            "queues": queues,
            "duplicates": records.duplicates_of(db, customer),
            "can_manage": user.role != "agent",
            "languages": customers.LANGUAGES,
            "error": error,
            "stamp": lambda at: at.astimezone(zone).strftime("%d/%m/%Y %H:%M") if at else "",
        },
        status_code,
    )


@router.get("/customers")
def customer_list(request: Request, caller: AgentCaller, db: DB, q: str = "") -> Response:
    """Find a customer by name, phone or email (agents see those within their reach)."""
    user = caller.need_user()
    found = [
        c
        for c in customers.search(db, tickets.one_line(q, 200), limit=100)
        if records.can_reach(db, user, c.id)
    ][:50]
    return render(request, "customers/list.html", {"q": q, "found": found})


@router.get("/customers/{customer_id}")
def customer_page(request: Request, customer_id: int, caller: AgentCaller, db: DB) -> Response:
    """The customer's record: details, contact points, and every contact and case."""
    user = caller.need_user()
    customer = records.check_reach(db, user, customer_id)
    if customer.merged_into_id is not None:
        target = records.merged_target(db, customer)
        return RedirectResponse(f"/customers/{target.id}", status_code=303)
    return _page(request, db, user, customer)


def _back(customer_id: int, back: str) -> str:
    """Where to go after an edit: the record, or the page it was made from (a case, the
    desk), when that is a path of this site."""
    if back.startswith("/") and not back.startswith("//"):
        return back
    return f"/customers/{customer_id}"


def _refused(
    request: Request, db: Session, user: User, customer_id: int, exc: Exception
) -> Response:
    db.rollback()
    customer = customers.get_customer(db, customer_id)
    message = exc.message if isinstance(exc, EscuchaError) else str(exc)
    status = exc.status_code if isinstance(exc, EscuchaError) else 422
    return _page(request, db, user, customer, error=message, status_code=status)


@router.post("/customers/{customer_id}")
def customer_edit(
    request: Request,
    customer_id: int,
    caller: AgentCaller,
    db: DB,
    clock: ClockDep,
    name: Annotated[str | None, Form(max_length=400)] = None,
    language: Annotated[str | None, Form(max_length=5)] = None,
    consent: Annotated[str, Form(max_length=5)] = "",
    consent_sms: Annotated[str, Form(max_length=5)] = "",
    consent_email: Annotated[str, Form(max_length=5)] = "",
    notes: Annotated[str | None, Form(max_length=20_000)] = None,
    back: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    """Save the name, language, consent and notes; a field left out of the form (the desk's
    short form sends only the name) keeps its value."""
    user = caller.need_user()
    customer = records.check_reach(db, user, customer_id)
    with_consent = bool(consent)  # the full form says it carries the consent boxes
    details = customers.Details(
        name=tickets.safe_text(name) if name is not None else customer.name,
        language=language if language is not None else customer.language,
        consent_sms=bool(consent_sms) if with_consent else customer.consent_sms,
        consent_email=bool(consent_email) if with_consent else customer.consent_email,
        notes=tickets.safe_text(notes) if notes is not None else customer.notes,
    )
    try:
        customers.update(db, customer, details, now=clock.now(), actor=tickets.actor_of(user))
    except EscuchaError as exc:
        return _refused(request, db, user, customer_id, exc)
    return RedirectResponse(_back(customer_id, back), status_code=303)


@router.post("/customers/{customer_id}/points")
def point_add(
    request: Request,
    customer_id: int,
    caller: AgentCaller,
    db: DB,
    clock: ClockDep,
    kind: Annotated[str, Form(max_length=10)] = "phone",
    value: Annotated[str, Form(max_length=320)] = "",
    label: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Add a phone or email to the record."""
    user = caller.need_user()
    customer = records.check_reach(db, user, customer_id)
    try:
        customers.add_point(
            db,
            customer,
            kind,
            value,
            now=clock.now(),
            actor=tickets.actor_of(user),
            label=tickets.one_line(label, 40),
            region=_region(db),
        )
    except EscuchaError as exc:
        return _refused(request, db, user, customer_id, exc)
    return RedirectResponse(f"/customers/{customer_id}", status_code=303)


@router.post("/customers/{customer_id}/points/{point_id}")
def point_change(
    request: Request,
    customer_id: int,
    point_id: int,
    caller: AgentCaller,
    db: DB,
    clock: ClockDep,
    action: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Remove a phone or email, or make it the one messages go to."""
    user = caller.need_user()
    customer = records.check_reach(db, user, customer_id)
    actor = tickets.actor_of(user)
    try:
        if action == "remove":
            customers.remove_point(db, customer, point_id, now=clock.now(), actor=actor)
        else:
            customers.prefer_point(db, customer, point_id, now=clock.now(), actor=actor)
    except EscuchaError as exc:
        return _refused(request, db, user, customer_id, exc)
    return RedirectResponse(f"/customers/{customer_id}", status_code=303)


@router.post("/customers/{customer_id}/merge")
def customer_merge(
    request: Request,
    customer_id: int,
    caller: AgentCaller,
    db: DB,
    clock: ClockDep,
    other: Annotated[str, Form(max_length=20)] = "",
    back: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    """Merge another record into this one (the other one's contacts and cases move here)."""
    user = caller.need_user()
    keep = records.check_reach(db, user, customer_id)
    other_id = int(other) if other.strip().isdigit() else 0
    try:
        drop = records.check_reach(db, user, other_id)
        records.merge(db, keep, drop, now=clock.now(), actor=tickets.actor_of(user))
    except EscuchaError as exc:
        return _refused(request, db, user, customer_id, exc)
    return RedirectResponse(_back(customer_id, back), status_code=303)


@router.get("/customers/{customer_id}/export")
def customer_export(
    request: Request, customer_id: int, caller: SupervisorCaller, db: DB, clock: ClockDep
) -> Response:
    """The customer's data as a JSON file (the right of access); audited."""
    user = caller.need_user()
    customer = customers.get_customer(db, customer_id)
    data = records.export(db, customer, now=clock.now(), actor=tickets.actor_of(user))
    db.commit()
    body = json.dumps(data, ensure_ascii=False, indent=2)
    name = quote(f"customer-{customer.id}.json")
    return Response(
        body,
        media_type="application/json; charset=utf-8",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{name}"},
    )


@router.post("/customers/{customer_id}/erase")
def customer_erase(
    request: Request,
    customer_id: int,
    caller: SupervisorCaller,
    db: DB,
    clock: ClockDep,
    confirm: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Erase the customer's personal data (the right to erasure); audited."""
    user = caller.need_user()
    customer = customers.get_customer(db, customer_id)
    if confirm.strip() != str(customer.id):
        lang = pick_language(request)
        error = gettext(lang, "Type the customer's number to erase their data.")
        return _page(request, db, user, customer, error=error, status_code=422)
    try:
        done = records.erase(
            db,
            customer,
            now=clock.now(),
            actor=tickets.actor_of(user),
            recordings_dir=recordings_dir(request.app.state.settings),
        )
    except EscuchaError as exc:
        return _refused(request, db, user, customer_id, exc)
    db.commit()
    for folder in done.folders:
        shutil.rmtree(Path(folder), ignore_errors=True)
    return RedirectResponse(f"/customers/{customer_id}", status_code=303)
