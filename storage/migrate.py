"""Run Alembic migrations from code, one process at a time."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

if TYPE_CHECKING:
    from storage.db import Database

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
MIGRATE_LOCK_KEY = 0x5041504D49  # advisory lock id for schema upgrades


def alembic_config(db: Database) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    return cfg


def is_current(db: Database, cfg: AlembicConfig) -> bool:
    """A read-only check, so a database busy with a long import still opens for searching."""
    head = ScriptDirectory.from_config(cfg).get_current_head()  # raises on a second head
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_heads() == (head,)


def upgrade_to_head(db: Database) -> None:
    cfg = alembic_config(db)
    if is_current(db, cfg):
        return
    conn_ctx = db.engine.connect().execution_options(sqlite_begin="BEGIN IMMEDIATE")
    with conn_ctx as conn, conn.begin():
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATE_LOCK_KEY})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
