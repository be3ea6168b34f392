"""Engine, migrations and the embedded SQLite defaults."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import OperationalError

from storage.db import Database, redact_url
from storage.papers import PaperRecord, upsert_papers
from tests.conftest import PAPERBOT, make_cli_env


def test_migrate_is_idempotent_and_creates_the_schema(db_url: str) -> None:
    db = Database(db_url)
    db.migrate()
    Database(db_url).migrate()  # a second process starting later
    tables = set(inspect(db.engine).get_table_names())
    assert {"papers", "meta", "alembic_version"} <= tables
    assert db.instance_id() == Database(db_url).instance_id()
    db.dispose()


def test_sqlite_runs_in_wal_mode_from_any_directory(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'nested' / 'dir' / 'p.db'}")
    db.migrate()
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 15000
    db.dispose()


def test_redact_url_hides_passwords() -> None:
    assert "s3cret" not in redact_url("postgresql+psycopg://bob:s3cret@db:5432/papers")


def test_locked_sqlite_gives_a_clear_error_and_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    db = Database(f"sqlite:///{path}", busy_timeout_ms=200)
    db.migrate()
    with db.session() as s:
        upsert_papers(s, [PaperRecord(title="Kept", abstract="x", source="t")])
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(OperationalError, match="locked"), db.session() as s:
            upsert_papers(s, [PaperRecord(title="Blocked", abstract="y", source="t")])
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with db.session() as s:
        titles = s.execute(text("SELECT title FROM papers")).scalars().all()
    assert titles == ["Kept"]
    db.dispose()


def test_cli_reports_a_locked_database_without_traceback(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    env = {**make_cli_env(f"sqlite:///{path}", tmp_path), "PAPERBOT_DB_BUSY_TIMEOUT_MS": "300"}
    subprocess.run([*PAPERBOT, "migrate"], env=env, check=True, capture_output=True)
    listing = tmp_path / "one.txt"
    abstract = "We study caches for diffusion models. " * 8
    listing.write_text(f"A title about caches\n{abstract}\n")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        proc = subprocess.run(
            [*PAPERBOT, "import", str(listing)], env=env, capture_output=True, text=True,
            timeout=60,
        )
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "locked" in proc.stderr
    assert "try again" in proc.stderr or "Rerunning the import" in proc.stderr
