"""Pages in every language of the catalog: Catalan for customers, one language per page."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.conftest import csrf_from, login
from tests.factories import PASSWORD, make_login_user, make_org

CA = {"Accept-Language": "ca-ES,ca;q=0.9"}


def test_the_language_picker_offers_every_language_of_the_catalog(client: TestClient) -> None:
    page = client.get("/").text
    for code, name in (("es", "Español"), ("en", "English"), ("ca", "Català")):
        assert f'<option value="{code}" lang="{code}"' in page
        assert name in page


def test_public_pages_in_catalan(client: TestClient, session: Session) -> None:
    make_org(session)
    session.commit()
    home = client.get("/", headers=CA)
    assert 'lang="ca"' in home.text
    assert "Presentar una reclamació" in home.text
    form = client.get("/complaints/new", headers=CA).text
    assert "Què ha passat?" in form
    assert "Registra la meva reclamació" in form
    assert "Consulti el seu cas" in client.get("/status", headers=CA).text


def test_a_case_page_greets_the_customer_by_the_hour(client: TestClient, session: Session) -> None:
    make_org(session)
    session.commit()
    csrf = csrf_from(client.get("/complaints/new", headers=CA).text)
    filed = client.post(
        "/complaints/new",
        data={"csrf_token": csrf, "form_key": "k-ca", "description": "No tinc aigua calenta"},
        headers=CA,
        follow_redirects=False,
    )
    assert filed.status_code == 303
    page = client.get("/status/view", headers=CA).text
    # The frozen clock says 10:00 in Madrid.
    assert '<p id="greeting">Bon dia. Aquest és l&#39;estat del seu cas.</p>' in page
    assert "Reclamació" in page


def test_a_missing_page_speaks_one_language(client: TestClient) -> None:
    es = client.get("/no-such-page", headers={"Accept-Language": "es"})
    assert es.status_code == 404
    assert "Esta página no existe." in es.text
    assert "Not Found" not in es.text
    ca = client.get("/no-such-page", headers=CA).text
    assert "Alguna cosa no va bé (404)" in ca
    assert "Aquesta pàgina no existeix." in ca
    api = client.get("/api/v1/no-such-thing")
    assert api.json()["detail"] == "Not Found"


def test_staff_pages_in_catalan_fall_back_to_spanish(client: TestClient, session: Session) -> None:
    make_org(session)
    make_login_user(session, "nuria")
    session.commit()
    assert login(client, "nuria", PASSWORD).status_code == 303
    csrf = csrf_from(client.get("/tickets").text)
    client.post("/language", data={"lang": "ca", "next": "/tickets", "csrf_token": csrf})
    page = client.get("/tickets").text
    assert 'lang="ca"' in page
    assert "Obre el cas" in page  # translated for Catalan
    assert "Casos" in page  # a staff string: Spanish, never the English id
    assert ">Tickets<" not in page
