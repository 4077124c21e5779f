from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from escucha.web.i18n import catalog
from escucha.web.render import NAV, TEMPLATES

CALL = re.compile(r"""_\(\s*(["'])(.+?)\1""")


def test_every_screen_text_has_a_spanish_translation() -> None:
    ids = set()
    for path in TEMPLATES.rglob("*.html"):
        ids |= {m.group(2) for m in CALL.finditer(path.read_text(encoding="utf-8"))}
    ids |= {label for _, _, label in NAV}
    src = Path(TEMPLATES).parent / "pages.py"
    ids |= (
        {"Wrong username or password."}
        if "Wrong username or password." in src.read_text()
        else set()
    )
    missing = sorted(i for i in ids if i not in catalog("es"))
    assert len(ids) > 30
    assert missing == []


def test_spanish_by_default_and_english_on_request(client: TestClient) -> None:
    assert "Iniciar sesión" in client.get("/login").text
    english = client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert "Log in" in english.text
    assert 'lang="en"' in english.text


def test_the_language_switch_sticks(client: TestClient) -> None:
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    client.post("/language", data={"lang": "en", "next": "/login", "csrf_token": token.group(1)})
    assert "Log in" in client.get("/login").text


def test_assets_are_served_from_the_package(client: TestClient) -> None:
    html = client.get("/login").text
    for src in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
        assert client.get(src).status_code == 200, src
    assert "http://" not in html
    assert "https://" not in html
