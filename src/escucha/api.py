"""The REST API under ``/api/v1``: every domain's ``api.router``, gathered here."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from escucha.discovery import domain_modules, import_all


class ErrorOut(BaseModel):
    """Every refusal of the API: a stable machine code and a message for the person."""

    error: str
    detail: str


# Declared on every operation, so clients (and the OpenAPI) know the shape of 4xx answers.
ERRORS: dict[int | str, dict[str, Any]] = {
    "4XX": {"model": ErrorOut, "description": "Refused: invalid input, not found, conflict..."}
}


def api_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1")
    for module in import_all(domain_modules("api")):
        sub = getattr(module, "router", None)
        if isinstance(sub, APIRouter):
            router.include_router(sub, responses=ERRORS)
    return router
