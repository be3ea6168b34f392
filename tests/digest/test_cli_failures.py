"""`paperbot digest` refused through the real console script before any database work: no
Slack credentials at all, or --now without --once. One clear line, a non-zero exit, no
traceback, and no database created, migrated or seeded."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from sqlalchemy import inspect

from bot.config import Config
from storage.db import Database
from tests.conftest import PAPERBOT, POSTGRES_SKIP_REASON, make_cli_env


def _no_credentials_env(tmp_path: Path) -> dict[str, str]:
    """The CLI environment with no SLACK_* at all (make_cli_env drops them)."""
    env = make_cli_env("sqlite://", tmp_path)
    env.pop("DATABASE_URL")
    return env


def test_once_without_credentials_names_both_ways_and_creates_no_database(
    tmp_path: Path,
) -> None:
    env = _no_credentials_env(tmp_path)
    home = Path(env["PAPERBOT_HOME"])
    default_db = Config.from_env(env).database_url
    assert default_db.startswith("sqlite:///") and str(home) in default_db
    result = subprocess.run(
        [*PAPERBOT, "digest", "--once"], env=env, capture_output=True, text=True,
        timeout=60, check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("paperbot: ") and "SLACK_BOT_TOKEN" in line
    for name in ("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET", "DATABASE_URL"):
        assert name in line, line
    assert not Path(default_db.removeprefix("sqlite:///")).exists()
    assert not home.exists() or not list(home.glob("*.db*"))


def test_now_without_once_is_refused_before_a_database_is_created(tmp_path: Path) -> None:
    env = {**_no_credentials_env(tmp_path), "SLACK_BOT_TOKEN": "xoxb-1-2-notused"}
    result = subprocess.run(
        [*PAPERBOT, "digest", "--now"], env=env, capture_output=True, text=True,
        timeout=60, check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "paperbot: --now goes with --once: `paperbot digest --once --now`"
    ]
    home = Path(env["PAPERBOT_HOME"])
    assert not home.exists() or not list(home.glob("*.db*"))


@pytest.mark.skipif(bool(POSTGRES_SKIP_REASON), reason=POSTGRES_SKIP_REASON or "")
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_once_without_credentials_leaves_a_configured_database_untouched(
    db_url: str, tmp_path: Path
) -> None:
    env = {**_no_credentials_env(tmp_path), "DATABASE_URL": db_url}
    result = subprocess.run(
        [*PAPERBOT, "digest", "--once"], env=env, capture_output=True, text=True,
        timeout=60, check=False,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    db = Database(db_url)
    try:
        assert inspect(db.engine).get_table_names() == []  # not even migrated
    finally:
        db.dispose()
