"""The interactive API reference at ``/api/v1/docs``: Swagger UI served from the package.

Swagger UI (npm ``swagger-ui-dist``, vendored with its licence) reads the same OpenAPI document
as any client, ``/api/v1/openapi.json``. Like the chart pages (ADR 8) the page allows inline
styles, which Swagger UI sets while drawing; scripts stay ``'self'``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from escucha.auth.api import Public
from escucha.web.charts import allow_chart_styles
from escucha.web.render import render

router = APIRouter(include_in_schema=False)


@router.get("/api/v1/docs")
def api_docs(request: Request, _caller: Public) -> HTMLResponse:
    return allow_chart_styles(render(request, "api_docs.html"))
