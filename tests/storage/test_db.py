"""Engine, migrations and the embedded SQLite defaults."""

from __future__ import annotations

import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from bot.cli import main
from storage.db import Database, redact_url
from storage.papers import PaperRecord, upsert_papers
from tests.conftest import PAPERBOT, PG_URL, make_cli_env


def test_migrate_is_idempotent_and_creates_the_schema(db_url: str) -> None:
    db = Database(db_url)
    assert db.migrate() is True  # it created the schema (Services warns about that)
    assert Database(db_url).migrate() is False  # a second process starting later
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


@pytest.fixture
def plain_postgres_url(postgres_admin: Database) -> Iterator[str]:
    """A `postgresql://` URL (no +psycopg, with a password trust auth ignores) whose
    search_path is a fresh schema, dropped afterwards. Skips with the reason when
    PostgreSQL does not answer (see conftest)."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with postgres_admin.engine.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    u = make_url(PG_URL).set(drivername="postgresql", password="hunter2pw")
    base = u.render_as_string(hide_password=False)
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options={quote(f'-csearch_path={schema}')}"
    finally:
        with postgres_admin.engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.mark.postgres
def test_plain_postgresql_url_works_and_a_new_database_is_announced_redacted(
    plain_postgres_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`DATABASE_URL=postgresql://… paperbot search` with the plain install (psycopg 3)."""
    for name, value in make_cli_env(plain_postgres_url, tmp_path).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("LOG_LEVEL", raising=False)
    monkeypatch.delenv("PAPERBOT_SEED", raising=False)

    assert main(["search", "diffusion", "caching"]) == 0
    out = capsys.readouterr()
    assert "The library is empty" in out.out  # a configured database is not seeded...
    assert "EMPTY database at postgresql+psycopg://postgres:***@" in out.err  # ...but announced
    assert "hunter2pw" not in out.err

    monkeypatch.setenv("PAPERBOT_SEED", "1")
    assert main(["search", "diffusion", "caching", "--limit", "3"]) == 0
    out = capsys.readouterr()
    lines = out.out.splitlines()
    assert len(lines) == 7 and "cach" in lines[0].lower(), out.out  # 3 papers + "3 of N" line
    assert "hunter2pw" not in out.err


def test_a_black_holed_postgresql_fails_within_seconds() -> None:
    """A server that accepts TCP and never answers must not hang a request (the Slack
    receipt claim runs before the 3-second ack)."""
    import socket
    import threading
    import time

    from sqlalchemy.exc import OperationalError

    listener = socket.create_server(("127.0.0.1", 0))  # accepts, never speaks
    db = Database(f"postgresql://postgres@127.0.0.1:{listener.getsockname()[1]}/test")
    outcome: list[object] = []

    def connect() -> None:
        started = time.monotonic()
        try:
            with db.engine.connect():
                outcome.append("connected")
        except OperationalError:
            outcome.append(time.monotonic() - started)

    worker = threading.Thread(target=connect, daemon=True)
    worker.start()
    worker.join(timeout=10)
    listener.close()
    assert not worker.is_alive(), "connecting to a silent server hung for 10 s"
    assert isinstance(outcome[0], float) and outcome[0] < 6
