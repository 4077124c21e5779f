"""Every page in each language, in Chromium against a real server: no untranslated string, no
raw internal id, no page that mixes languages (issue: words customers and agents see).

Public pages are read in Spanish, English and Catalan; each role's signed-in pages in Spanish
and English. What a page shows is its visible text (``innerText``) and its text nodes:

* **untranslated** — a text node equal to a message id (English) that the page's language
  translates to something else, e.g. "Open" on a Spanish page;
* **raw internal id** — queue, skill, team and IVR node keys (``averias``, ``ingles``,
  ``main ·``) and codes with underscores (``wrap_up``, ``promise_changed``);
* **mixed language** — three or more common English words on a Spanish or Catalan page, or
  common Spanish-only words on an English or Catalan public page.

One browser, the pages in a loop; findings are gathered and reported together.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from escucha.org import service as org_service
from escucha.web.i18n import catalog
from tests.conftest import START
from tests.system.conftest import LiveServer, screenshot
from tests.system.test_browser_narrow import PAGES as NARROW_PAGES

DEMO = Path(org_service.__file__).parent / "demo.yaml"
TIMEOUT_MS = 15_000

pytestmark = [pytest.mark.browser, pytest.mark.system]

PUBLIC_PAGES = (
    "/",
    "/phone",
    "/complaints/new",
    "/requests/new",
    "/status",
    "/status/view",
    "/login",
    "/no-such-page",
)
#: Every signed-in page of each role: the same list the narrow-screen test walks.
STAFF_PAGES = NARROW_PAGES
PASSWORDS = {"admin": "escucha-admin"}
#: Pages whose subject is ids and keys: the IVR editor (node ids, queue keys), the YAML of the
#: configuration, and canned replies (their placeholders, such as {case_number}).
IDS_ARE_THE_SUBJECT = frozenset({"/ivr", "/admin/config/queues", "/canned-replies"})

#: Keys of the demo organisation that are not words ("averias" is the key, "averías" the word).
RAW_ID = re.compile(
    r"\b(?:averias|ingles|atencion|averias-24h|call_me_back)\b"
    r"|\b[a-z]+_[a-z]+(?:_[a-z]+)*\b"  # codes: wrap_up, promise_changed, needs_follow_up
    r"|\bmain\s·"  # an IVR node id before a key
)
ENGLISH = frozenset(
    [
        "the",
        "and",
        "of",
        "to",
        "your",
        "you",
        "with",
        "for",
        "is",
        "are",
        "this",
        "that",
        "from",
        "will",
        "not",
        "be",
        "have",
        "has",
        "we",
        "our",
        "there",
        "when",
        "what",
        "which",
        "been",
    ]
)
SPANISH_ONLY = frozenset(
    [
        "los",
        "las",
        "y",
        "para",
        "con",
        "su",
        "sus",
        "por",
        "usted",
        "nuestro",
        "nuestra",
        "pero",
        "cuando",
        "donde",
        "está",
        "están",
        "hemos",
        "puede",
    ]
)
TEXT_NODES = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const p = n.parentElement;
    // <code> holds identifiers and file formats on purpose (the IVR editor's node ids,
    // CSV columns); what is typed in a text area is the user's.
    if (!p || p.closest("script, style, textarea, code, kbd, pre, [hidden]")) continue;
    if (p.closest("select") && !p.closest("option[selected]")) continue;
    // text marked as another language (an IVR prompt in English on a Spanish page) is data
    const marked = p.closest("[lang]");
    if (marked && marked.lang !== document.documentElement.lang) continue;
    const t = n.textContent.replace(/\\s+/g, " ").trim();
    if (t) out.push(t);
  }
  return {nodes: out, text: out.join("\\n")};
}"""


def _untranslated(lang: str) -> frozenset[str]:
    """Message ids shown differently in ``lang``: seeing one of them as is is a slip."""
    if lang == "en":
        return frozenset()
    shown = set(catalog(lang).values()) | (set(catalog("es").values()) if lang == "ca" else set())
    out = set()
    for msgid in set(catalog("es")) | set(catalog(lang)):
        # A single lowercase word ("admin", "key") is a fragment that data may equal.
        if len(msgid) < 4 or "{" in msgid or msgid in shown or re.fullmatch(r"[a-z]+", msgid):
            continue
        out.add(msgid)
    return frozenset(out)


def _words(text: str) -> list[str]:
    return re.findall(r"[a-záéíóúàèòïüñç·']+", text.lower())


def _documented() -> frozenset[str]:
    """Codes the screens name on purpose (a CSV column in a help text is in a message id)."""
    return frozenset(m.group(0) for msgid in catalog("es") for m in RAW_ID.finditer(msgid))


def _problems(seen: dict[str, Any], lang: str, *, public: bool, ids_ok: bool = False) -> list[str]:
    found: list[str] = []
    untranslated = _untranslated(lang)
    found += [f"untranslated: {n!r}" for n in seen["nodes"] if n in untranslated]
    if not ids_ok:
        documented = _documented()
        found += [
            f"raw id: {m.group(0)!r}"
            for m in RAW_ID.finditer(seen["text"])
            if m.group(0) not in documented
        ]
    words = Counter(_words(seen["text"]))
    if lang in ("es", "ca"):
        english = {w: c for w, c in words.items() if w in ENGLISH}
        if sum(english.values()) >= 3:
            found.append(f"English words on a {lang} page: {english}")
    if public and lang in ("en", "ca"):
        spanish = {w: c for w, c in words.items() if w in SPANISH_ONLY}
        if sum(spanish.values()) >= 3:
            found.append(f"Spanish words on a {lang} page: {spanish}")
    return found


def _read(page: Any, url: str) -> dict[str, Any]:
    page.goto(url)
    page.wait_for_load_state("networkidle")
    result: dict[str, Any] = page.evaluate(TEXT_NODES)
    return result


def _file_a_complaint(page: Any, url: str) -> None:
    page.goto(f"{url}/complaints/new")
    page.fill("#description", "No tengo agua caliente desde el lunes.")
    page.click("form button[type=submit]")
    page.wait_for_load_state()
    assert "/complaints/done" in page.url


def test_every_page_speaks_one_language(
    live_server: LiveServer, browser: Any, session: Session
) -> None:
    org_service.apply_file(session, DEMO, now=START)
    session.commit()
    problems: dict[str, list[str]] = {}
    for lang in ("es", "en", "ca"):
        context = browser.new_context(locale=lang, extra_http_headers={"Accept-Language": lang})
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        _file_a_complaint(page, live_server.url)  # so that /status/view shows a case
        for path in PUBLIC_PAGES:
            seen = _read(page, f"{live_server.url}{path}")
            assert f'lang="{lang}"' in page.content(), (lang, path)
            found = _problems(seen, lang, public=True)
            if found:
                problems[f"{lang} {path}"] = found
                screenshot(page, f"words-{lang}-{path.strip('/').replace('/', '-') or 'home'}")
        context.close()
    for username, paths in STAFF_PAGES.items():
        for lang in ("es", "en"):
            context = browser.new_context(locale=lang)
            page = context.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(f"{live_server.url}/login")
            page.fill("#username", username)
            page.fill("#password", PASSWORDS.get(username, "escucha-demo"))
            page.click("button[type=submit]")
            page.wait_for_load_state()
            with page.expect_navigation():
                page.select_option("#lang-select", lang)
            for path in paths:
                seen = _read(page, f"{live_server.url}{path}")
                found = _problems(seen, lang, public=False, ids_ok=path in IDS_ARE_THE_SUBJECT)
                if found:
                    problems[f"{username} {lang} {path}"] = found
            context.close()
    assert problems == {}
