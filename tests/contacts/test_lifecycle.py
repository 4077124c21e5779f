"""The contact's life as data (ADR 13): only the table's moves happen, each writes one event row,
and :func:`escucha.contacts.service.transition` is the only writer of a contact's state."""

from __future__ import annotations

import ast
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha.auth.models import User
from escucha.contacts import lifecycle
from escucha.contacts import service as contacts
from escucha.contacts.models import EVENTS, Contact, ContactEvent
from escucha.errors import Conflict, InvalidInput
from tests.conftest import START
from tests.factories import make_user

SRC = Path(__file__).resolve().parents[2] / "src" / "escucha"


def _new(channel: str) -> Contact:
    return Contact(channel=channel, ivr_path=[], skills={}, arrived_at=START)


def _rows(session: Session, contact: Contact) -> list[str]:
    return list(
        session.scalars(
            select(ContactEvent.event)
            .where(ContactEvent.contact_id == contact.id)
            .order_by(ContactEvent.id)
        )
    )


# --- the table ------------------------------------------------------------------------------


def test_every_move_writes_an_event_the_log_knows_and_every_state_is_reachable() -> None:
    assert set(lifecycle.ROWS) <= set(EVENTS)
    reached = {m.target for m in lifecycle.MOVES.values() if m.target is not None}
    assert reached == set(lifecycle.State)
    for state in lifecycle.FINAL:  # a final state is left by no move; close only logs its end
        leaving = [
            m.name
            for m in lifecycle.MOVES.values()
            if state in m.sources and m.to(state) is not state
        ]
        assert leaving == []


def test_a_callback_waits_in_its_own_state_not_in_the_ivr() -> None:
    born = lifecycle.Facts(callback=True, has_agent=False, closed=False)
    assert lifecycle.check("await_callback", None, born) is lifecycle.State.CALLBACK_WAITING
    with pytest.raises(Conflict, match="it needs callback=False"):
        lifecycle.check("arrive", None, born)
    offered = lifecycle.Facts(callback=True, has_agent=True, closed=False)
    assert lifecycle.check("no_answer", "offered", offered) is lifecycle.State.CALLBACK_WAITING
    assert lifecycle.check("enqueue", "callback_waiting", offered) is lifecycle.State.QUEUED


# --- the writer -----------------------------------------------------------------------------

CHANNELS = st.sampled_from(["voice", "callback"])
STEPS = st.lists(st.tuples(st.sampled_from(sorted(lifecycle.MOVES)), st.booleans()), max_size=30)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(channel=CHANNELS, steps=STEPS)
def test_random_moves_follow_the_table_and_each_writes_exactly_one_row(
    session: Session, channel: str, steps: list[tuple[str, bool]]
) -> None:
    agent = session.scalar(select(User.id).limit(1)) or make_user(session).id
    contact = _new(channel)
    born = "await_callback" if channel == "callback" else "arrive"
    contacts.transition(session, contact, born, at=START)
    at = START
    for name, with_agent in steps:
        at += timedelta(seconds=1)
        contact.agent_id = agent if with_agent else None
        before_state, before_rows = contact.state, _rows(session, contact)
        facts = lifecycle.Facts(
            callback=channel == "callback",
            has_agent=with_agent,
            closed=contact.ended_at is not None,
        )
        allowed = lifecycle.allowed(name, lifecycle.state_of(before_state), facts)
        if allowed:
            contacts.transition(session, contact, name, at=at)
            session.flush()
            move = lifecycle.MOVES[name]
            assert contact.state == move.to(lifecycle.State(before_state))
            assert _rows(session, contact) == [*before_rows, move.row]
            if move.closes:
                assert contact.ended_at is not None
        else:
            with pytest.raises(Conflict, match=f"contact {contact.id} "):
                contacts.transition(session, contact, name, at=at)
            session.flush()
            assert contact.state == before_state
            assert _rows(session, contact) == before_rows


def test_an_invalid_move_is_refused_with_a_clear_error_and_writes_nothing(
    session: Session,
) -> None:
    contact = _new("voice")
    contacts.transition(session, contact, "arrive", at=START)
    with pytest.raises(Conflict) as err:
        contacts.transition(session, contact, "answer", at=START)
    assert str(err.value) == f"contact {contact.id} is ivr: it cannot answer (only from offered)"
    with pytest.raises(InvalidInput, match="contact move 'teleport' is not one of arrive"):
        contacts.transition(session, contact, "teleport", at=START)
    session.flush()
    assert (contact.state, _rows(session, contact)) == ("ivr", ["arrived"])


def test_a_retried_move_with_the_same_key_changes_nothing(session: Session) -> None:
    contact = _new("voice")
    contacts.transition(session, contact, "arrive", at=START)
    assert contacts.transition(session, contact, "choose", at=START, dedupe_key="k") is not None
    assert contacts.transition(session, contact, "choose", at=START, dedupe_key="k") is None
    assert _rows(session, contact) == ["arrived", "ivr_choice"]


def test_the_set_based_writer_moves_only_what_the_table_allows(session: Session) -> None:
    agent = make_user(session).id
    made = {}
    for label, moves, with_agent in [
        ("waiting", ["enqueue"], False),
        ("held", ["enqueue"], True),  # the guard: an agent already holds it
        ("in_ivr", [], False),
        ("offered", ["enqueue", "offer"], False),
    ]:
        c = _new("voice")
        contacts.transition(session, c, "arrive", at=START)
        for m in moves:
            contacts.transition(session, c, m, at=START)
        c.agent_id = agent if with_agent else None
        made[label] = c
    session.flush()
    ids = [c.id for c in made.values()]
    moved = contacts.transition_many(
        session, "offer", ids, at=START, values={"agent_id": agent}, data={ids[0]: {"kind": "x"}}
    )
    assert [c.id for c in moved] == [made["waiting"].id]
    session.expire_all()
    states = {
        k: session.scalar(select(Contact.state).where(Contact.id == c.id)) for k, c in made.items()
    }
    assert states == {
        "waiting": "offered",
        "held": "queued",
        "in_ivr": "ivr",
        "offered": "offered",
    }
    assert _rows(session, made["waiting"]) == ["arrived", "queued", "offered"]
    assert _rows(session, made["held"]) == ["arrived", "queued"]
    with pytest.raises(InvalidInput, match="cannot be written set-based"):
        contacts.transition_many(session, "close", ids, at=START)


# --- one writer -----------------------------------------------------------------------------


def _writes_state(tree: ast.Module, owner: str, model: str) -> list[int]:
    """Lines that assign ``<owner...>.state``, build a ``model(...)`` with a state (or from a
    mapping), or insert or update ``model`` rows in bulk."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                if (
                    isinstance(t, ast.Attribute)
                    and t.attr == "state"
                    and owner in ast.unparse(t.value).lower()
                ):
                    out.append(node.lineno)
        if isinstance(node, ast.Call):
            func = ast.unparse(node.func)
            named = [k.arg for k in node.keywords]
            if func == model and ("state" in named or None in named):
                out.append(node.lineno)
            if func in ("update", "insert") and [ast.unparse(a) for a in node.args] == [model]:
                out.append(node.lineno)
    return out


def _writers(owner: str, model: str) -> dict[str, list[int]]:
    writers = {}
    for path in sorted(SRC.rglob("*.py")):
        if "migrations" in path.parts:
            continue  # a migration rewrites stored values once, on purpose
        lines = _writes_state(ast.parse(path.read_text(encoding="utf-8")), owner, model)
        if lines:
            writers[str(path.relative_to(SRC))] = lines
    return writers


def test_one_module_writes_a_contacts_state() -> None:
    assert list(_writers("contact", "Contact")) == ["contacts/service.py"]


def test_one_module_writes_an_agents_state() -> None:
    assert list(_writers("status", "AgentStatus")) == ["routing/service.py"]


def test_the_writer_check_sees_a_second_writer() -> None:
    tree = ast.parse(
        "contact.state = 'ended'\n"
        "Contact(channel='voice', state='ivr')\n"
        "Contact(**row)\n"
        "session.execute(insert(Contact), rows)\n"
        "update(Contact).values(state='queued')\n"
        "other.state = 'x'\n"
    )
    assert _writes_state(tree, "contact", "Contact") == [1, 2, 3, 4, 5]
