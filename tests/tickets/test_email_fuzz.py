"""Arbitrary email in: parsing never fails, and every message is kept or refused whole (P2).

Messages are built from hostile header values (broken encoded words, unknown charsets, huge or
empty addresses, message ids that look like ours) and bodies, or are plain arbitrary bytes.
:func:`parse_email` always returns; :func:`receive_email` always ends in a known outcome with
a consistent record, and a second delivery of the same bytes changes nothing.
"""

from __future__ import annotations

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from escucha.config import Settings
from escucha.tickets import planning, service
from escucha.tickets.email import InboundSettings, parse_email, receive_email
from escucha.tickets.models import InboundEmail, Ticket
from tests.conftest import START
from tests.factories import make_agent, make_org

OWN = "atencion@aguas.example"
FUZZ = settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

_word = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40).map(
    lambda t: t.encode("utf-8")
)
_header_value = st.one_of(
    _word,
    st.binary(max_size=60),
    st.sampled_from(
        [
            b"=?utf-8?B?w7FhbmR1?=",
            b"=?unknown?Q?x?=",
            b"=?utf-8?Q?broken",
            b"<notification-1@escucha>",
            b"<notification-99999999999999999999@escucha>",
            b"Re: 2026-0000001-7",
            b"<>",
            b"a@b.c, d@e.f",
            b'"Ruiz, Ana" <ana@example.es>',
            b"text/plain; charset=nope",
            b"multipart/mixed; boundary=x",
            b"multipart/report",
            b"auto-replied",
            b"bulk",
            b"x" * 2000,
        ]
    ),
)
_names = st.sampled_from(
    [
        b"From",
        b"Sender",
        b"Subject",
        b"Message-ID",
        b"In-Reply-To",
        b"References",
        b"Content-Type",
        b"Content-Transfer-Encoding",
        b"Content-Language",
        b"Auto-Submitted",
        b"Precedence",
        b"X-Loop",
        b"List-Id",
        b"Content-Disposition",
    ]
)


@st.composite
def raw_messages(draw: st.DrawFn) -> bytes:
    headers = draw(st.lists(st.tuples(_names, _header_value), max_size=10))
    eol = draw(st.sampled_from([b"\r\n", b"\n"]))
    lines = [
        name + b": " + value.replace(b"\r", b" ").replace(b"\n", b" ") for name, value in headers
    ]
    body = draw(st.one_of(_word, st.binary(max_size=400)))
    return eol.join(lines) + eol + eol + body


_anything = st.one_of(raw_messages(), st.binary(max_size=500))


@FUZZ
@given(raw=_anything, envelope=st.sampled_from([None, "", "<>", "x@y.z"]))
def test_parse_never_raises(raw: bytes, envelope: str | None) -> None:
    parsed = parse_email(
        raw, own_address=OWN, envelope_from=envelope, limits=InboundSettings(max_attachments=2)
    )
    assert len(parsed.sender) <= 320
    assert len(parsed.subject) <= service.MAX_SUBJECT
    assert "\n" not in parsed.subject
    assert parsed.size_bytes == len(raw)
    assert len(parsed.attachments) <= 2
    assert isinstance(parsed.body, str)


@FUZZ
@given(raw=_anything)
def test_receive_keeps_or_ignores_each_message_whole(
    session: Session, settings: Settings, raw: bytes
) -> None:
    if not _has_org(session):  # once: the session outlives the examples
        o = make_org(session)
        make_agent(session, o.care, skills={"email": 1})
        session.flush()
    cfg = settings.model_copy(update={"smtp_from": OWN})
    savepoint = session.begin_nested()
    try:
        before = session.scalar(select(func.count(Ticket.id)))
        got = receive_email(session, raw, now=START, settings=cfg, source="smtp")
        assert got.outcome in ("created", "joined", "bounce", "ignored")
        event(got.outcome)
        record = session.scalar(select(InboundEmail).order_by(InboundEmail.id.desc()).limit(1))
        assert record is not None
        assert record.outcome == got.outcome
        assert record.ticket_id == got.ticket_id
        after = session.scalar(select(func.count(Ticket.id)))
        assert after == (before or 0) + (1 if got.outcome == "created" else 0)
        if got.ticket_id is not None:
            ticket = session.get(Ticket, got.ticket_id)
            assert ticket is not None
            assert ticket.number == got.number
            assert planning.promises_of(session, ticket.id)
        again = receive_email(session, raw, now=START, settings=cfg, source="smtp")
        assert again.duplicate
        assert again.ticket_id == got.ticket_id
        assert session.scalar(select(func.count(Ticket.id))) == after
    finally:
        savepoint.rollback()


def _has_org(session: Session) -> bool:
    from escucha.org.models import Organisation

    return session.scalar(select(func.count(Organisation.id))) == 1
