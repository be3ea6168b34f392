"""Shared fixtures: a fresh database per test, on SQLite and (where it answers) PostgreSQL.

`db_url` is parametrized over both backends. PostgreSQL tests each get their own schema
(selected through the URL's search_path), so subprocesses given the URL see the same data.
Set PAPERBOT_TEST_POSTGRES_URL to point elsewhere; without a server they skip with a reason.
"""

from __future__ import annotations

import os
import socket
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from storage.db import Database

PG_URL = os.environ.get(
    "PAPERBOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _postgres_reason() -> str | None:
    """Why the PostgreSQL variants cannot run here, or None when they can.

    A real login and query, not just an open port: a server that refuses our role or
    database must skip the variants with its own words, not error in every test."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (pip install -e '.[test]')"
    from sqlalchemy.engine import make_url

    u = make_url(PG_URL)
    where = f"{u.host or '127.0.0.1'}:{u.port or 5432}"
    try:
        with socket.create_connection((u.host or "127.0.0.1", u.port or 5432), timeout=1):
            pass
    except OSError as exc:
        return f"PostgreSQL is not reachable at {where} ({exc.strerror or exc})"
    try:
        with psycopg.connect(
            host=u.host or "127.0.0.1", port=u.port or 5432, user=u.username,
            password=u.password, dbname=u.database, connect_timeout=3,
        ) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"PostgreSQL at {where} refused {u.username}@{u.database}: {first}"
    return None


POSTGRES_SKIP_REASON = _postgres_reason()


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[Database]:
    if POSTGRES_SKIP_REASON:
        pytest.skip(POSTGRES_SKIP_REASON)
    admin = Database(PG_URL)
    yield admin
    admin.dispose()


def _pg_schema_url(schema: str) -> str:
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options={quote(f'-csearch_path={schema}')}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database (not yet migrated), on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'paperbot.db'}"
        return
    admin: Database = request.getfixturevalue("postgres_admin")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with admin.engine.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield _pg_schema_url(schema)
    finally:
        with admin.engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    """A migrated, empty database on each backend."""
    database = Database(db_url)
    database.migrate()
    yield database
    database.dispose()


def make_cli_env(db_url: str, tmp_path: Path) -> dict[str, str]:
    """Environment for running the real `paperbot` entry point in a subprocess."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PAPERBOT_"))}
    env.pop("DATABASE_URL", None)
    env.update(
        DATABASE_URL=db_url,
        PAPERBOT_HOME=str(tmp_path / "home"),
        PAPERBOT_INDEX_DIR=str(tmp_path / "index"),
        PAPERBOT_SCHEDULER="0",
        PYTHONUNBUFFERED="1",
    )
    return env


@pytest.fixture
def paperbot_env(db_url: str, tmp_path: Path) -> dict[str, str]:
    return make_cli_env(db_url, tmp_path)


def _paperbot_command() -> list[str]:
    """The installed `paperbot` console script (the real entry point), beside this Python."""
    script = Path(sys.executable).with_name("paperbot")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]


PAPERBOT = _paperbot_command()
