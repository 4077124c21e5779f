"""Files attached on the public forms: kept when their bytes are of an allowed type, refused
(and said so) otherwise, shown to agents on the case; the case is registered either way."""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha.tickets import service, uploads
from escucha.tickets.models import Ticket, TicketAttachment
from tests.conftest import csrf_from, login
from tests.factories import PASSWORD, make_org, make_user

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
PDF = b"%PDF-1.7\n" + b"x" * 100


def _docx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("virus.exe", "MZ")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (PDF, "application/pdf"),
        (PNG, "image/png"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 20, "image/jpeg"),
        (b"GIF89a" + b"\x00" * 10, "image/gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        ("Texto con eñes\n".encode(), "text/plain; charset=utf-8"),
        (_docx(), "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        (b"MZ\x90\x00\x03\x00\x00\x00", None),  # a Windows program
        (_zip(), None),
        (b"\xff\xfe\x00\x00 latin", None),
        (b"<svg onload=alert(1)>\x00", None),
    ],
)
def test_files_are_known_by_their_bytes(data: bytes, expected: str | None) -> None:
    assert uploads.sniff(data) == expected


def test_file_names_are_made_safe() -> None:
    assert uploads.safe_filename("C:\\Users\\ana\\factura enero.pdf") == "factura enero.pdf"
    assert uploads.safe_filename("../../etc/passwd") == "passwd"
    assert uploads.safe_filename("<script>.png") == "_script_.png"
    assert uploads.safe_filename("...") == "file"


_NUMBER = re.compile(r'id="ticket-number">([0-9-]+)<')


def test_the_complaint_form_keeps_allowed_files_and_says_which_were_not_kept(
    client: TestClient, session: Session
) -> None:
    make_org(session)
    make_user(session, username="sara", role="supervisor")
    session.commit()
    page = client.get("/complaints/new")
    assert 'enctype="multipart/form-data"' in page.text
    assert 'type="file"' in page.text
    files = [
        ("attachments", ("foto.png", PNG, "image/png")),
        ("attachments", ("factura.pdf", b"MZ\x90\x00 not a pdf", "application/pdf")),
        ("attachments", ("vacio.txt", b"", "text/plain")),
    ]
    r = client.post(
        "/complaints/new",
        data={"csrf_token": csrf_from(page.text), "description": "Adjunto la foto"},
        files=files,
        follow_redirects=False,
    )
    assert r.status_code == 303
    done = client.get("/complaints/done")
    number = _NUMBER.search(done.text)
    assert number
    assert 'id="files-refused"' in done.text
    assert "factura.pdf" in done.text
    assert "no se aceptan archivos de este tipo" in done.text
    ticket = session.scalar(select(Ticket).where(Ticket.number == number.group(1)))
    assert ticket is not None
    kept = session.scalars(
        select(TicketAttachment).where(TicketAttachment.ticket_id == ticket.id)
    ).all()
    assert [(a.filename, a.content_type, a.data) for a in kept] == [("foto.png", "image/png", PNG)]
    # the agent sees the file and the note of those refused on the case
    client.cookies.clear()
    assert login(client, "sara", PASSWORD).status_code == 303
    case = client.get(f"/tickets/{ticket.id}")
    assert f"/tickets/{ticket.id}/attachments/{kept[0].id}" in case.text
    assert "factura.pdf: type" in case.text
    download = client.get(f"/tickets/{ticket.id}/attachments/{kept[0].id}")
    assert download.content == PNG


def test_files_over_the_limit_are_refused_and_the_case_registered(
    client: TestClient, session: Session
) -> None:
    make_org(session)
    session.commit()
    page = client.get("/requests/new")
    limit = client.app.state.settings.max_upload_bytes  # type: ignore[attr-defined]
    big = PDF + b"x" * (limit // 2)
    files = [("attachments", (f"parte{i}.pdf", big, "application/pdf")) for i in range(2)]
    files += [("attachments", (f"n{i}.txt", b"hola", "text/plain")) for i in range(5)]
    r = client.post(
        "/requests/new",
        data={"csrf_token": csrf_from(page.text), "description": "Varias facturas"},
        files=files,
        follow_redirects=False,
    )
    assert r.status_code == 303
    done = client.get("/complaints/done")
    assert "los archivos superan el límite" in done.text
    assert "demasiados archivos" in done.text
    ticket = session.scalars(select(Ticket).order_by(Ticket.id.desc())).first()
    assert ticket is not None
    names = [a.filename for a in service.attachments_of(session, ticket.id)]
    assert names == ["parte0.pdf", "n0.txt", "n1.txt", "n2.txt", "n3.txt"]
