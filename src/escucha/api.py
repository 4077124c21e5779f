"""The REST API under ``/api/v1``: one router per domain, gathered here."""

from __future__ import annotations

from fastapi import APIRouter

from escucha.auth.api import router as auth_router
from escucha.jobs.api import router as jobs_router
from escucha.org.api import router as org_router

api_router = APIRouter(prefix="/api/v1")
api_router.include_router(auth_router)
api_router.include_router(org_router)
api_router.include_router(jobs_router)
