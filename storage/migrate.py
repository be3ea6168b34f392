"""Run Alembic migrations from code, one process at a time.

Alembic is imported only when the schema is not known to be current: the common case (a
current database) is checked by reading the version files' `revision` lines and the
`alembic_version` table, which keeps short CLI commands fast.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

    from storage.db import Database

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
MIGRATE_LOCK_KEY = 0x5041504D49  # advisory lock id for schema upgrades


def alembic_config(db: Database) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    return cfg


_REVISION = re.compile(r"^revision\s*=\s*[\"']([^\"']+)[\"']", re.MULTILINE)
_DOWN = re.compile(r"^down_revision\s*=\s*(.+)$", re.MULTILINE)


def _head_from_files() -> str | None:
    """The single head revision read from the version files' text, or None if unsure."""
    revisions, parents = set(), set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        rev, down = _REVISION.search(source), _DOWN.search(source)
        if rev is None or down is None:
            return None
        revisions.add(rev.group(1))
        parents.update(re.findall(r"[\"']([^\"']+)[\"']", down.group(1)))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def is_current_fast(db: Database) -> bool:
    """True when the database is provably at the single head, without importing Alembic;
    False means "not known" (the caller then asks Alembic)."""
    head = _head_from_files()
    if head is None:
        return False
    try:
        with db.engine.connect() as conn:
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    except SQLAlchemyError:
        return False
    return [r[0] for r in rows] == [head]


def is_current(db: Database, cfg: AlembicConfig) -> bool:
    """A read-only check, so a database busy with a long import still opens for searching."""
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(cfg).get_current_head()  # raises on a second head
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_heads() == (head,)


def upgrade_to_head(db: Database) -> None:
    if is_current_fast(db):
        return
    from alembic import command

    cfg = alembic_config(db)
    if is_current(db, cfg):
        return
    conn_ctx = db.engine.connect().execution_options(sqlite_begin="BEGIN IMMEDIATE")
    with conn_ctx as conn, conn.begin():
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATE_LOCK_KEY})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
