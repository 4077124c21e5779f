"""Migration 0021: a contact's recording becomes its first leg, and a contact may then have
several; going down keeps the first leg of each contact."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from escucha.db import migrate
from tests.factories import make_ended_contact, make_login_user

RECORDING = "INSERT INTO voice_recordings (contact_id, user_id, content_type, chunks, bytes, started_at, updated_at{leg}) VALUES (:contact, :user, 'audio/webm', 2, 10, '2026-12-07 10:01:00', '2026-12-07 10:02:00'{value})"  # noqa: E501


def test_a_recording_becomes_the_first_leg_and_legs_are_one_per_number(
    engine: Engine, session: Session
) -> None:
    agent = make_login_user(session, "ana", "agent", "Ana López")
    user, contact = agent.id, make_ended_contact(session, agent_id=agent.id).id
    session.commit()
    session.close()
    cfg = migrate.alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0020")
    with engine.begin() as conn:
        conn.execute(text(RECORDING.format(leg="", value="")), {"contact": contact, "user": user})
    migrate.upgrade(engine)
    two = text(RECORDING.format(leg=", leg", value=", :leg"))
    with engine.begin() as conn:
        legs = conn.execute(text("SELECT leg FROM voice_recordings")).scalars().all()
        assert legs == [1]
        conn.execute(two, {"contact": contact, "user": user, "leg": 2})
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(two, {"contact": contact, "user": user, "leg": 2})
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0020")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM voice_recordings")).scalar_one() == 1
    migrate.upgrade(engine)
    assert migrate.is_at_head(engine)
