"""Migration 0011: callbacks parked out of line in the old state ``ivr`` become
``callback_waiting``; calls in the IVR stay ``ivr``; going down gives the old value back."""

from __future__ import annotations

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

from escucha.db import migrate

ROWS = "INSERT INTO contacts (channel, state, language, provider, ivr_path, priority, skills, arrived_at) VALUES (:channel, :state, 'es', 'browser', '[]', 0, '{}', :at)"  # noqa: E501


def _states(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [
            (str(c), str(s))
            for c, s in conn.execute(text("SELECT channel, state FROM contacts ORDER BY id"))
        ]


def test_parked_callbacks_move_to_callback_waiting_and_back(engine: Engine) -> None:
    cfg = migrate.alembic_config(engine.url.render_as_string(hide_password=False))
    before = ScriptDirectory.from_config(cfg).get_revision("0011").down_revision
    assert isinstance(before, str)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, before)
    rows = [("callback", "ivr"), ("voice", "ivr"), ("callback", "queued")]
    with engine.begin() as conn:
        for channel, state in rows:
            conn.execute(
                text(ROWS), {"channel": channel, "state": state, "at": "2026-12-07 10:00:00"}
            )
    migrate.upgrade(engine)
    assert _states(engine) == [
        ("callback", "callback_waiting"),
        ("voice", "ivr"),
        ("callback", "queued"),
    ]
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, before)
    assert _states(engine) == rows
    migrate.upgrade(engine)
    assert migrate.is_at_head(engine)
