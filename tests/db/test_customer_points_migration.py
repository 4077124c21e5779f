"""Migration 0017: every phone and email already on a customer becomes a verified contact point
(an email shared by two records goes to the older one); going down drops them again."""

from __future__ import annotations

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

from escucha.db import migrate

ROWS = "INSERT INTO customers (phone, email, name, language, timezone, created_at) VALUES (:phone, :email, '', 'es', 'Europe/Madrid', '2026-12-07 10:00:00')"  # noqa: E501


def test_known_phones_and_emails_become_verified_points(engine: Engine) -> None:
    cfg = migrate.alembic_config(engine.url.render_as_string(hide_password=False))
    before = ScriptDirectory.from_config(cfg).get_revision("0017").down_revision
    assert isinstance(before, str)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, before)
    rows = [
        ("+34600111222", "rosa@example.es"),
        (None, "rosa@example.es"),
        ("+34600333444", None),
        (None, None),
    ]
    with engine.begin() as conn:
        for phone, email in rows:
            conn.execute(text(ROWS), {"phone": phone, "email": email})
    migrate.upgrade(engine)
    with engine.connect() as conn:
        points = {
            (int(c), str(k), str(v), bool(verified))
            for c, k, v, verified in conn.execute(
                text("SELECT customer_id, kind, value, verified FROM customer_points")
            )
        }
        first = conn.execute(text("SELECT min(id) FROM customers")).scalar_one()
        consent = conn.execute(text("SELECT consent_sms, notes FROM customers")).first()
    assert points == {
        (first, "phone", "+34600111222", True),
        (first, "email", "rosa@example.es", True),
        (first + 2, "phone", "+34600333444", True),
    }
    assert consent is not None
    assert (bool(consent[0]), consent[1]) == (False, "")
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, before)
    migrate.upgrade(engine)
    assert migrate.is_at_head(engine)
