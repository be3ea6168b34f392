"""The migrations build exactly the schema the models describe (no drift)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from storage.db import Database
from storage.migrate import alembic_config
from storage.models import Base


def test_models_and_migrations_agree(db: Database) -> None:
    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == [], f"models and migrations differ; add a migration: {diff}"


def test_history_is_one_line(db: Database) -> None:
    """A second head means two migrations revise the same parent: chain the new one instead."""
    heads = ScriptDirectory.from_config(alembic_config(db)).get_heads()
    assert len(heads) == 1, f"migrations have {len(heads)} heads {heads}; revise the latest one"


def test_database_is_at_the_head(db: Database) -> None:
    head = ScriptDirectory.from_config(alembic_config(db)).get_current_head()
    with db.engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_heads() == (head,)


def test_database_from_before_the_merge_upgrades(tmp_path) -> None:
    """A database created by the shipped two-headed chain (0002 + 0003) upgrades in place."""
    from alembic import command

    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    cfg = alembic_config(db)
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0002_slack_events")
        command.upgrade(cfg, "0003_digest")
    db.migrate()
    with db.engine.connect() as conn:
        heads = MigrationContext.configure(conn).get_current_heads()
    assert heads == (ScriptDirectory.from_config(cfg).get_current_head(),)
    db.dispose()
