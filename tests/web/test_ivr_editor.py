"""The IVR editor screen and the simulated call (requirement C1, item 5)."""

from __future__ import annotations

import re
import shutil
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha.ivr.editing import fingerprint
from escucha.org import models as org_models
from escucha.web import ivr_editor
from tests.conftest import csrf_from, login
from tests.factories import demo, make_user

PROMPT_ES = "t.nodes.main.prompt.es"


def _demo(session: Session, users: tuple[str, ...] = ("admin",)) -> None:
    """The demo organisation with only the accounts a test logs in with (hashing is slow)."""
    demo(session, users)
    session.commit()


def _stored_ivr(session: Session) -> dict[str, Any]:
    session.expire_all()
    org = session.scalar(select(org_models.Organisation))
    assert org is not None
    return dict(org.ivr)


def _editor(client: TestClient) -> tuple[str, dict[str, str]]:
    """The editor page and the form it would post as it stands."""
    page = client.get("/ivr")
    assert page.status_code == 200
    form = {"csrf_token": csrf_from(page.text)}
    base = re.search(r'name="base" value="([^"]+)"', page.text)
    assert base
    form["base"] = base.group(1)
    return page.text, form


def _rules(html: str) -> list[str]:
    """Rule ids of the findings table (not the marks next to the nodes)."""
    return re.findall(r'<tr class="finding [a-z]+" data-rule="([^"]+)"', html)


def _summary(html: str) -> tuple[int, int]:
    match = re.search(r'data-errors="(\d+)" data-warnings="(\d+)"', html)
    assert match
    return int(match.group(1)), int(match.group(2))


@pytest.fixture
def admin(client: TestClient, session: Session) -> TestClient:
    _demo(session)
    assert login(client, "admin", "escucha-admin").status_code == 303
    return client


def test_the_editor_shows_the_tree_every_text_and_clean_lint(admin: TestClient) -> None:
    html, _ = _editor(admin)
    # the tree from the entry, the business-hours branch and the menus' keys
    assert 'href="#node-start"' in html
    assert 'href="#node-closed"' in html
    assert "1 → emergencies" in html
    # texts in both languages, the greeting first, the generated prompt as placeholder
    assert 'name="t.greeting.es"' in html
    assert 'name="t.nodes.meter.message.en"' in html
    assert 'name="t.nodes.main.options.4.label.es"' in html
    assert "Para facturas, pulse 2." in html  # generated from the labels
    assert _summary(html) == (0, 0)
    assert _rules(html) == []
    assert re.search(r'id="dur-f-nodes-main-prompt-es"[^>]*>≈ \d+\.\d s', html)


def test_findings_are_listed_and_marked_next_to_their_node(
    admin: TestClient, session: Session
) -> None:
    org = session.scalar(select(org_models.Organisation))
    assert org is not None
    ivr = dict(org.ivr)
    ivr["greeting"] = {"es": "Bienvenido al IVR de Aguas."}
    org.ivr = ivr
    session.commit()
    html, _ = _editor(admin)
    assert set(_rules(html)) == {"jargon", "missing-translation"}
    assert _summary(html) == (0, 2)
    marks = re.search(r'<ul id="marks-_greeting" class="marks">(.*?)</ul>', html, re.S)
    assert marks
    assert 'data-rule="jargon"' in marks.group(1)
    assert "IVR" in marks.group(1)
    assert "Use las palabras del cliente" in html  # the fix, in the user's language


def test_live_lint_fires_when_a_prompt_says_the_key_first(
    admin: TestClient, session: Session
) -> None:
    _, form = _editor(admin)
    clean = admin.post("/ivr/lint", data=form, headers={"HX-Request": "true"})
    assert clean.status_code == 200
    assert _rules(clean.text) == []
    form[PROMPT_ES] = (
        "Pulse 1 para facturas. Para averías, pulse 2. Para la lectura, pulse 3. "
        "Para contratos, pulse 4. Para reclamaciones, pulse 5. Para otro idioma, pulse 6. "
        "Para repetir, pulse 9. Para hablar con una persona, pulse 0."
    )
    form["t.nodes.main.prompt.en"] = (
        "For leaks, press 1. For bills, press 2. For readings, press 3. For contracts, "
        "press 4. For complaints, press 5. For another language, press 6. "
        "To hear this again, press 9. For a person, press 0."
    )
    form["t.nodes.main.prompt.ca"] = (
        "Per a fuites, premi 1. Per a factures, premi 2. Per a lectures, premi 3. Per a "
        "contractes, premi 4. Per a reclamacions, premi 5. Per a un altre idioma, premi 6. "
        "Per repetir, premi 9. Per parlar amb una persona, premi 0."
    )
    edited = admin.post("/ivr/lint", data=form, headers={"HX-Request": "true"})
    assert _rules(edited.text) == ["action-before-key"]
    assert "Pulse 1 para facturas" in edited.text
    # the marks of the node and the durations are swapped in out of band
    assert re.search(r'<ul id="marks-main" class="marks" hx-swap-oob="true">\s*<li', edited.text)
    assert 'id="dur-f-nodes-main-prompt-es" class="duration" hx-swap-oob="true"' in edited.text
    assert "not saved yet" in edited.text or "sin guardar" in edited.text
    assert "prompt" not in _stored_ivr(session)["nodes"]["main"]  # nothing was saved


def test_save_refuses_an_ivr_with_errors_and_keeps_the_edit(
    admin: TestClient, session: Session
) -> None:
    before = _stored_ivr(session)
    _, form = _editor(admin)
    form["t.greeting.es"] = "Hola, Aguas del Manzanares."
    form["t.nodes.meter.message.es"] = ""
    form["t.nodes.meter.message.en"] = ""  # an information node must say something
    form["t.nodes.meter.message.ca"] = ""
    r = admin.post("/ivr/save", data=form, follow_redirects=False)
    assert r.status_code == 422
    assert "Not saved" in r.text or "No se ha guardado" in r.text
    assert "nodes.meter.message" in r.text
    assert _summary(r.text)[0] >= 1
    assert ">Hola, Aguas del Manzanares.</textarea>" in r.text  # the edit is kept
    assert _stored_ivr(session) == before


def test_save_accepts_a_good_edit(admin: TestClient, session: Session) -> None:
    before = _stored_ivr(session)
    _, form = _editor(admin)
    form["t.greeting.es"] = "Aguas del Manzanares, le atendemos."
    form["t.nodes.main.options.1.label.en"] = "bills and payments"
    r = admin.post("/ivr/save", data=form, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/ivr?saved=1"
    after = _stored_ivr(session)
    assert after["greeting"]["es"] == "Aguas del Manzanares, le atendemos."
    assert after["nodes"]["main"]["options"][1]["label"]["en"] == "bills and payments"
    assert after["nodes"]["meter"] == before["nodes"]["meter"]
    page = admin.get("/ivr?saved=1").text
    assert "For bills and payments, press 2." in page
    # emptying a written prompt goes back to the generated one
    _, form = _editor(admin)
    form[PROMPT_ES] = "Para facturas, pulse 2; para todo lo demás, pulse 0."
    assert admin.post("/ivr/save", data=form, follow_redirects=False).status_code == 303
    assert "prompt" in _stored_ivr(session)["nodes"]["main"]
    _, form = _editor(admin)
    form[PROMPT_ES] = ""
    assert admin.post("/ivr/save", data=form, follow_redirects=False).status_code == 303
    assert "prompt" not in _stored_ivr(session)["nodes"]["main"]


def test_save_refuses_when_someone_else_saved_in_between(
    admin: TestClient, session: Session
) -> None:
    _, form = _editor(admin)
    org = session.scalar(select(org_models.Organisation))
    assert org is not None
    changed = dict(org.ivr)
    changed["greeting"] = {"es": "Otra persona guardó esto.", "en": "Someone else saved this."}
    org.ivr = changed
    session.commit()
    form["t.greeting.en"] = "My edit."
    r = admin.post("/ivr/save", data=form, follow_redirects=False)
    assert r.status_code == 409
    assert ">My edit.</textarea>" in r.text
    assert f'name="base" value="{fingerprint(changed)}"' in r.text
    assert _stored_ivr(session)["greeting"]["en"] == "Someone else saved this."


def test_fields_outside_the_texts_cannot_be_written(admin: TestClient, session: Session) -> None:
    before = _stored_ivr(session)
    _, form = _editor(admin)
    form["t.nodes.billing.queue.es"] = "reclamaciones"
    r = admin.post("/ivr/save", data=form, follow_redirects=False)
    assert r.status_code == 422
    assert _stored_ivr(session) == before


def _call_state(html: str) -> str:
    match = re.search(r'name="state" value="([^"]+)"', html)
    assert match
    return match.group(1)


def _status(html: str) -> str:
    match = re.search(r'id="call-status"[^>]*>(.*?)</p>', html, re.S)
    assert match
    return " ".join(match.group(1).split())


def _press(client: TestClient, page: str, **fields: str) -> str:
    r = client.post(
        "/ivr/call/step",
        data={"csrf_token": csrf_from(page), "state": _call_state(page), **fields},
        headers={"HX-Request": "true"},
    )
    assert r.status_code == 200, r.text
    return r.text


def test_the_simulated_call_walks_a_task_to_a_queue(admin: TestClient) -> None:
    page = admin.get("/ivr/call").text  # Monday 10:00 in Madrid: open
    assert "Aguas del Manzanares, buenos días." in page
    assert "Para facturas, pulse 2." in page
    assert 'data-key="#"' in page
    assert len(re.findall(r'class="key"', page)) == 12
    after = _press(admin, page, key="2")
    assert after.startswith('<section id="call"')  # the fragment, for HTMX
    assert "facturas" in _status(after)
    assert "Facturas y pagos" in _status(after)
    assert "start&gt;main&gt;2&gt;billing" in after
    seconds = re.search(r'id="call-seconds">([\d.]+) s', after)
    assert seconds
    assert float(seconds.group(1)) > 5
    assert 'data-key="1" disabled' in after  # the call is over
    heard = re.search(r'<div id="heard"[^>]*>(.*?)</div>', after, re.S)
    assert heard
    assert "El IVR no dice nada más" in heard.group(1)  # the billing queue has no message
    assert "buenos días" not in heard.group(1)


def test_the_simulated_call_follows_hours_keys_words_and_the_way_to_a_person(
    admin: TestClient,
) -> None:
    closed = admin.get("/ivr/call?hours=closed&lang=en").text
    assert "Our office is closed now." in closed
    person = _press(admin, closed, key="0")
    assert person.count('data-status="callback"') == 1
    assert "facturas" in _status(person)
    page = admin.get("/ivr/call").text
    said = _press(admin, page, action="say", say="quiero pagar el recibo")
    assert "facturas" in _status(said)
    assert "«quiero pagar el recibo»" in said
    info = _press(admin, page, key="3")
    assert "Puede darnos la lectura" in info
    assert "main" in _status(info)
    again = _press(admin, info, action="silence")
    assert "No le he oído." in again


def test_an_altered_call_state_is_refused(admin: TestClient) -> None:
    page = admin.get("/ivr/call").text
    state = _call_state(page)
    r = admin.post(
        "/ivr/call/step",
        data={"csrf_token": csrf_from(page), "state": "x" + state, "key": "2"},
    )
    assert r.status_code == 422


def test_a_call_restarts_when_the_ivr_is_saved_meanwhile(
    admin: TestClient, session: Session
) -> None:
    page = admin.get("/ivr/call").text
    org = session.scalar(select(org_models.Organisation))
    assert org is not None
    changed = dict(org.ivr)
    changed["greeting"] = {"es": "Nuevo saludo.", "en": "New greeting."}
    org.ivr = changed
    session.commit()
    after = _press(admin, page, key="2")
    assert "Nuevo saludo." in after
    assert 'data-status="menu"' in after


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_each_prompt_has_audio_rendered_on_demand(admin: TestClient, settings: Any) -> None:
    html, _ = _editor(admin)
    assert '<audio controls preload="none" src="/ivr/audio/main/es.wav?v=' in html
    r = admin.get("/ivr/audio/main/es.wav")
    assert r.status_code == 200
    assert r.headers["content-type"] == "audio/wav"
    assert r.content[:4] == b"RIFF"
    assert any((settings.outbox_dir.parent / "ivr-audio").glob("*.wav"))
    draft = admin.get("/ivr/audio/_greeting/en.wav", params={"text": "Hello there."})
    assert draft.status_code == 200
    assert len(draft.content) < len(r.content)
    assert admin.get("/ivr/audio/nowhere/es.wav").status_code == 404
    assert admin.get("/ivr/audio/main/fr.wav").status_code == 404


def test_without_espeak_there_is_no_audio_and_the_page_says_so(
    admin: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ivr_editor, "espeak_available", lambda: False)
    html, _ = _editor(admin)
    assert "<audio" not in html
    assert "espeak-ng" in html
    assert admin.get("/ivr/audio/main/es.wav").status_code == 404


def test_without_an_ivr_the_pages_say_how_to_add_one(client: TestClient, session: Session) -> None:
    make_user(session, username="boss", role="supervisor")
    session.commit()
    assert login(client, "boss", "correct-horse-battery").status_code == 303
    for path in ("/ivr", "/ivr/call"):
        r = client.get(path)
        assert r.status_code == 200
        assert "escucha config apply" in r.text


def test_agents_cannot_lint_or_save(client: TestClient, session: Session) -> None:
    _demo(session, users=("ana",))
    assert login(client, "ana", "escucha-demo").status_code == 303
    token = csrf_from(client.get("/agent").text)
    for path in ("/ivr/lint", "/ivr/save"):
        assert client.post(path, data={"csrf_token": token}).status_code == 403


def test_a_stored_ivr_with_structural_problems_still_opens(
    admin: TestClient, session: Session
) -> None:
    org = session.scalar(select(org_models.Organisation))
    assert org is not None
    org.ivr = {"nodes": {"main": {"type": "menu", "options": [{"key": 1, "goto": "nowhere"}]}}}
    session.commit()
    html, _ = _editor(admin)
    assert _rules(html) == ["structure"]
    assert "nodes.main.options[0].goto" in html
    assert "nowhere" in html
    assert 'name="t.nodes.main.prompt.es"' in html
    call = admin.get("/ivr/call")
    assert call.status_code == 200
    assert 'id="keypad"' not in call.text
