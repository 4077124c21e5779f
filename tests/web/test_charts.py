"""Plotly served from the package, and the policy of ADR 0008: only chart pages may carry
inline styles, and no page may run inline scripts or eval."""

from __future__ import annotations

import gzip
import json

import pytest
from fastapi import APIRouter
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from escucha.analytics.charts import figure_json
from escucha.discovery import import_all, package_modules
from escucha.web import charts
from tests.conftest import login
from tests.factories import make_user

CHART_PAGES = ("/planning", "/planning/patience", "/reports", "/api/v1/docs")
DOWNLOADS = ("/reports/live.html", charts.PLOTLY_PATH)


def _directives(policy: str) -> dict[str, list[str]]:
    out = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


def test_plotly_comes_from_the_package_with_a_long_cache(client: TestClient) -> None:
    r = client.get(charts.PLOTLY_PATH, headers={"accept-encoding": "identity"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/javascript")
    assert "max-age=31536000" in r.headers["cache-control"]
    assert r.text.startswith("/**\n* plotly.js v")
    etag = r.headers["etag"]
    assert client.get(charts.PLOTLY_PATH, headers={"if-none-match": etag}).status_code == 304
    zipped = client.get(charts.PLOTLY_PATH, headers={"accept-encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.text == r.text  # the client unzips it
    assert len(gzip.compress(r.content)) < len(r.content) / 2


def test_figure_json_cannot_close_its_script_element() -> None:
    text = figure_json({"data": [{"name": "</script><b>", "y": [1.0, float("nan")]}]})
    assert "</" not in text
    assert json.loads(text)["data"][0] == {"name": "</script><b>", "y": [1.0, None]}


def _screen_gets() -> list[str]:
    """GET paths without parameters of every screen module (they are mounted without prefix)."""
    paths = set()
    for module in import_all(package_modules("escucha.web")):
        screens = getattr(module, "router", None)
        if isinstance(screens, APIRouter):
            paths |= {
                r.path
                for r in screens.routes
                if isinstance(r, APIRoute) and "GET" in (r.methods or ()) and "{" not in r.path
            }
    return sorted(paths)


def test_only_chart_pages_allow_inline_styles_and_no_page_allows_inline_scripts(
    client: TestClient, session: Session
) -> None:
    """ADR 0008: Plotly needs inline styles on chart pages; scripts stay 'self' everywhere."""
    make_user(session, username="boss", role="admin")
    session.commit()
    assert login(client, "boss", "correct-horse-battery").status_code == 303
    checked = []
    for path in _screen_gets():
        if path in DOWNLOADS:
            continue
        r = client.get(path, follow_redirects=False)
        if "text/html" not in r.headers.get("content-type", ""):
            continue
        header = r.headers["content-security-policy"]
        policy = _directives(header)
        assert policy["script-src"] == ["'self'"], path
        assert "unsafe-eval" not in header, path
        if path in CHART_PAGES:
            assert policy["style-src"] == ["'self'", "'unsafe-inline'"], path
            others = [w for k, v in policy.items() if k != "style-src" for w in v]
            assert not any("unsafe" in w for w in others), path
        else:
            assert "unsafe-inline" not in header, path
        checked.append(path)
    assert set(CHART_PAGES) <= set(checked)
    assert len(checked) > len(CHART_PAGES)


def test_chart_pages_load_plotly_and_the_chart_script_from_the_server(
    client: TestClient, session: Session
) -> None:
    make_user(session, username="sup", role="supervisor")
    session.commit()
    login(client, "sup", "correct-horse-battery")
    html = client.get("/planning").text
    assert f'<script src="{charts.plotly_src()}" defer></script>' in html
    assert '<script src="/static/charts.js" defer></script>' in html
    assert "cdn" not in html.lower()


MY_GETS = (
    "/planning",
    "/planning/patience",
    "/planning/sample-history.csv",
    "/reports",
    "/reports/events.csv",
)


@pytest.mark.parametrize(("role", "expected"), [("agent", 403), ("supervisor", 200)])
def test_planning_and_reports_are_for_supervisors_and_admins(
    client: TestClient, session: Session, role: str, expected: int
) -> None:
    for path in MY_GETS:
        anonymous = client.get(path, follow_redirects=False)
        assert anonymous.status_code in (303, 401), path
    make_user(session, username="someone", role=role)
    session.commit()
    login(client, "someone", "correct-horse-battery")
    for path in MY_GETS:
        assert client.get(path, follow_redirects=False).status_code == expected, path
    assert client.get(charts.PLOTLY_PATH).status_code == 200
