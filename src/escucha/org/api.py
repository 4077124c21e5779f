"""The organisation over HTTP: read it (any agent), export and apply it (admins)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy import select

from escucha.auth.api import DB, AdminCaller, AgentCaller, ClockDep
from escucha.errors import InvalidInput
from escucha.org import models as m
from escucha.org import service

router = APIRouter(prefix="/org", tags=["organisation"])


class QueueOut(BaseModel):
    name: str
    display_name: dict[str, str]
    skills: dict[str, int]
    callback_threshold_s: int
    sl_target_pct: float
    sl_target_s: int


@router.get("/queues", response_model=list[QueueOut])
def list_queues(_caller: AgentCaller, db: DB) -> list[QueueOut]:
    """Queues and their service targets."""
    return [
        QueueOut(
            name=q.name,
            display_name=q.display_name,
            skills=q.skills,
            callback_threshold_s=q.callback_threshold_s,
            sl_target_pct=q.sl_target_pct,
            sl_target_s=q.sl_target_s,
        )
        for q in db.scalars(select(m.Queue).order_by(m.Queue.name))
    ]


@router.get("/export")
def export(_caller: AdminCaller, db: DB) -> dict[str, Any]:
    """The organisation as the structure ``config apply`` reads (without passwords)."""
    return service.export_org(db)


class ApplyOut(BaseModel):
    applied: dict[str, int]


@router.post("/apply", response_model=ApplyOut)
async def apply(request: Request, _caller: AdminCaller, db: DB, clock: ClockDep) -> ApplyOut:
    """Apply an organisation YAML sent as the request body; all or nothing."""
    limit = request.app.state.settings.max_upload_bytes
    too_big = InvalidInput(f"the file is larger than {limit} bytes")
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise too_big
    body = bytearray()
    async for chunk in request.stream():  # never more than the limit in memory
        body += chunk
        if len(body) > limit:
            raise too_big
    try:
        text = bytes(body).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput("the file is not UTF-8 text") from exc
    org, _doc = service.parse_org(text, "org.yaml")
    return ApplyOut(applied=service.apply_org(db, org, now=clock.now()))
