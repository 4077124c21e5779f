"""The REST API under ``/api/v1``: every domain's ``api.router``, gathered here."""

from __future__ import annotations

from fastapi import APIRouter

from escucha.discovery import domain_modules, import_all


def api_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1")
    for module in import_all(domain_modules("api")):
        sub = getattr(module, "router", None)
        if isinstance(sub, APIRouter):
            router.include_router(sub)
    return router
