"""Agent and team reports (C4, C6): QA trend by week, strengths and weaknesses by criterion,
handle time beside first-contact resolution and repeat contacts, and breaks taken."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response

from escucha.auth.api import DB, ClockDep, SupervisorCaller
from escucha.errors import InvalidInput
from escucha.org import service as org_service
from escucha.web._quality import page
from escucha.workforce.reports import agent_report

router = APIRouter(include_in_schema=False)


@router.get("/reports/agents")
def agents_page(
    request: Request,
    caller: SupervisorCaller,
    db: DB,
    clock: ClockDep,
    weeks: int = 4,
    team: str = "",
) -> Response:
    if not 1 <= weeks <= 52:
        raise InvalidInput("weeks: from 1 to 52")
    now = clock.now()
    report = agent_report(db, since=now - timedelta(weeks=weeks), until=now, now=now, team=team)
    teams = org_service.teams(db)
    return page(
        request,
        db,
        "reports_agents/agents.html",
        {"report": report, "weeks": weeks, "team": team, "teams": teams},
    )
