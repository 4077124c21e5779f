"""Every route declares who may call it; anonymous, agent, supervisor and admin are checked."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from escucha.auth.api import ACCESS_ATTR
from tests.conftest import login
from tests.factories import make_user

ROLES = ("anonymous", "agent", "supervisor", "admin")
RANK = {"public": 0, "webhook": 0, "agent": 1, "supervisor": 2, "admin": 3}


def _access(route: APIRoute) -> list[str]:
    found: list[str] = []

    def walk(dep: Any) -> None:
        fn = dep.call
        if fn is not None and hasattr(fn, ACCESS_ATTR):
            found.append(getattr(fn, ACCESS_ATTR))
        for sub in dep.dependencies:
            walk(sub)

    walk(route.dependant)
    return found


def _api_routes(app: FastAPI) -> list[tuple[str, APIRoute]]:
    """Every endpoint with its full path (routers included in routers are walked)."""
    out = []
    for ctx in iter_route_contexts(app.routes):
        route = ctx.original_route
        if isinstance(route, APIRoute):
            out.append((str(ctx.path), route))
    return out


def test_the_walk_sees_every_endpoint(app: FastAPI) -> None:
    paths = {path for path, _ in _api_routes(app)}
    assert {"/login", "/api/v1/org/queues", "/healthz", "/admin/jobs"} <= paths
    assert len(paths) > 50


def test_every_route_declares_exactly_one_access_rule(app: FastAPI) -> None:
    undeclared = [
        f"{sorted(r.methods)} {path}" for path, r in _api_routes(app) if len(set(_access(r))) != 1
    ]
    assert undeclared == []


def _simple_get_routes(app: FastAPI) -> list[tuple[str, str]]:
    out = []
    for path, r in _api_routes(app):
        if "GET" in r.methods and "{" not in path:
            out.append((path, _access(r)[0]))
    return out


@pytest.mark.parametrize("role", ROLES)
def test_authorisation_matrix_for_every_get_route(
    role: str, app: FastAPI, client: TestClient, session: Session
) -> None:
    if role != "anonymous":
        make_user(session, username="probe", role=role)
        session.commit()
        assert login(client, "probe", "correct-horse-battery").status_code == 303
    rank = -1 if role == "anonymous" else RANK[role]
    wrong = []
    for path, minimum in _simple_get_routes(app):
        r = client.get(path, follow_redirects=False, headers={"accept": "application/json"})
        allowed = minimum == "public" or rank >= RANK[minimum]
        if allowed and r.status_code in (401, 403):
            wrong.append(f"{path}: {role} refused ({r.status_code})")
        if not allowed:
            expected = 401 if role == "anonymous" else 403
            if r.status_code != expected:
                wrong.append(f"{path}: {role} got {r.status_code}, expected {expected}")
    assert wrong == []
