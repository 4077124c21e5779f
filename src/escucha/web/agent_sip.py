"""The desk's SIP phone (ADR 23): its account, for the agent alone, and its registration.

``static/voice-sip.js`` reads ``GET /agent/voice/sip``: whether the agent's PBX calls ring in
this browser (then the address and password to register with) or on a desk phone. It reports
its registration to ``POST /agent/voice/sip``; presence follows it (``voice.sip``).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from escucha.auth.api import DB, AgentCaller, ClockDep
from escucha.voice import sip

router = APIRouter(include_in_schema=False)


class RegistrationIn(BaseModel):
    registration: str


@router.get("/agent/voice/sip")
def sip_phone(request: Request, caller: AgentCaller, db: DB) -> JSONResponse:
    user = caller.need_user()
    settings = request.app.state.settings
    phone = sip.browser_phone(settings, sip.account_of(db, user.id), user.display_name)
    return JSONResponse(phone, headers={"Cache-Control": "no-store"})


@router.post("/agent/voice/sip")
def sip_registration(
    caller: AgentCaller, db: DB, clock: ClockDep, body: RegistrationIn
) -> dict[str, str]:
    user = caller.need_user()
    account = sip.report(db, user.id, body.registration, now=clock.now())
    return {"registration": account.registration}
