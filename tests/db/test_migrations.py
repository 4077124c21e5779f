from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from escucha.db import migrate
from escucha.db.fulltext import is_fulltext_name
from escucha.db.registry import load_models


def test_the_test_database_is_at_head(engine: Engine) -> None:
    assert migrate.head_revision() is not None
    assert migrate.current_revision(engine) == migrate.head_revision()
    assert migrate.is_at_head(engine)


def test_models_and_migrations_do_not_drift(engine: Engine) -> None:
    metadata = load_models()
    with engine.connect() as conn:
        opts = {"compare_type": True, "include_name": lambda n, _t, _p: not is_fulltext_name(n)}
        ctx = MigrationContext.configure(conn, opts=opts)
        diff = compare_metadata(ctx, metadata)
    assert diff == []


def test_every_table_is_created(engine: Engine) -> None:
    names = set(inspect(engine).get_table_names())
    assert {t.name for t in load_models().sorted_tables} <= names


def test_migrations_go_down_and_up_again(engine: Engine) -> None:
    migrate.upgrade(engine, "head")
    from alembic import command

    cfg = migrate.alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    assert "jobs" not in inspect(engine).get_table_names()
    migrate.upgrade(engine)
    assert migrate.is_at_head(engine)
