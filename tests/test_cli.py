"""The `paperbot` command through its real console-script entry point."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from bot.cli import main
from tests.conftest import PAPERBOT, make_cli_env


def run(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PAPERBOT, *args], env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture
def paperbot_env(paperbot_env: dict[str, str]) -> dict[str, str]:
    """A configured DATABASE_URL is never seeded by itself: these tests opt in, as a demo would."""
    return {**paperbot_env, "PAPERBOT_SEED": "1"}


def test_first_search_on_a_new_database_ranks_the_bundled_corpus(
    paperbot_env: dict[str, str],
) -> None:
    proc = run(paperbot_env, "search", "diffusion caching")
    assert proc.returncode == 0, proc.stderr
    first = proc.stdout.splitlines()[0]
    assert re.match(r"\s*1\s+\d+\.\d{3}\s+\S", first), first
    assert "diffusion" in first.lower() and "cach" in first.lower(), first


def test_search_json_lists_objects_with_id_title_score_url(paperbot_env: dict[str, str]) -> None:
    proc = run(paperbot_env, "search", "diffusion", "caching", "--json", "--limit", "3")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert len(rows) == 3
    for row in rows:
        assert {"id", "title", "score", "url"} <= row.keys()
        assert isinstance(row["score"], float) and row["score"] > 0
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)
    assert "cach" in rows[0]["title"].lower()


@pytest.mark.parametrize(
    ("query", "needle"),
    [("   ", "words to search"), ("the of and with", "common words"), ("x" * 10_240, "limit")],
    ids=["empty", "stopwords", "10kB"],
)
def test_bad_queries_get_a_helpful_message_and_no_traceback(
    paperbot_env: dict[str, str], query: str, needle: str
) -> None:
    proc = run(paperbot_env, "search", query)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert needle in proc.stderr.lower(), proc.stderr
    assert len(proc.stderr) < 500


def test_no_match_is_a_friendly_message(paperbot_env: dict[str, str]) -> None:
    proc = run(paperbot_env, "search", "zzyzxquux")
    assert proc.returncode == 0
    assert "No papers match" in proc.stdout


def test_bad_limit_is_a_usage_error(paperbot_env: dict[str, str]) -> None:
    proc = run(paperbot_env, "search", "diffusion", "--limit", "0")
    assert proc.returncode == 2 and "--limit" in proc.stderr


# --- the embedded default's sample corpus stays out of configured databases ---------------


def test_configured_database_that_is_gone_is_created_empty_and_said_loudly(
    tmp_path: Path,
) -> None:
    """A restart after the DATABASE_URL's SQLite file was deleted: no sample papers appear in
    what is meant to be the team's library, and stderr says an empty database was created."""
    path = tmp_path / "prod" / "papers.db"
    env = make_cli_env(f"sqlite:///{path}", tmp_path)
    proc = run(env, "search", "diffusion")
    assert proc.returncode == 0, proc.stderr
    assert "The library is empty" in proc.stdout and "paperbot import" in proc.stdout
    assert "EMPTY database" in proc.stderr and str(path) in proc.stderr, proc.stderr
    again = run(env, "search", "diffusion")  # the next start finds it, and says nothing
    assert "The library is empty" in again.stdout and again.stderr == ""


def test_embedded_default_is_seeded_with_the_sample_corpus(tmp_path: Path) -> None:
    env = make_cli_env("", tmp_path)
    del env["DATABASE_URL"]
    proc = run(env, "search", "diffusion", "caching")
    assert proc.returncode == 0, proc.stderr
    assert re.match(r"\s*1\s+\d+\.\d{3}\s+\S", proc.stdout), proc.stdout
    assert "sample corpus (549 papers)" in proc.stderr
    assert (tmp_path / "home" / "paperbot.db").exists()


def test_seed_can_be_refused_for_the_embedded_default(tmp_path: Path) -> None:
    env = {**make_cli_env("", tmp_path), "PAPERBOT_SEED": "0"}
    del env["DATABASE_URL"]
    proc = run(env, "search", "diffusion")
    assert "The library is empty" in proc.stdout and proc.stderr == ""


# --- CLI defects: broken pipes, empty filtered results, --limit, links --------------------


def test_closed_pipe_exits_quietly(paperbot_env: dict[str, str]) -> None:
    """`paperbot search --json x | head -c 10`: the reader is gone before we write."""
    proc = subprocess.Popen(
        [*PAPERBOT, "search", "--json", "--limit", "100", "diffusion"],
        env=paperbot_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the only reader: every write from now on gets EPIPE
    err = proc.stderr.read().decode()
    proc.wait(timeout=120)
    proc.stderr.close()
    assert proc.returncode == 1
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    assert "Exception ignored" not in err, err


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        # The bundled sample has no dates: say so, rather than leave "no results" unexplained.
        (["--since", "2030-01-01"], "No papers match 'diffusion' published since 2030-01-01: "
         "the 81 papers that match have no publication date, so --since cannot place them "
         "(the bundled sample corpus has titles and abstracts only). Leave out --since"),
        (["--until", "1999-12-31"], "No papers match 'diffusion' published until 1999-12-31: "
         "the 81 papers that match have no publication date, so --until cannot place them"),
        (["--since", "2026-01-01", "--until", "2026-12-31"], "have no publication date, so "
         "--since/--until cannot place them"),
        (["--source", "foo"], "No papers from source 'foo' (sources here: sample)."),
        (
            ["--source", "sample", "--until", "1999-12-31"],
            "No papers match 'diffusion' published until 1999-12-31: the 81 papers",
        ),
    ],
    ids=["since", "until", "both", "unknown-source", "date-not-source"],
)
def test_a_filter_that_excludes_everything_is_named(
    paperbot_env: dict[str, str], flags: list[str], expected: str
) -> None:
    proc = run(paperbot_env, "search", "diffusion", *flags)
    assert proc.returncode == 0, proc.stderr
    assert expected in proc.stdout, proc.stdout
    assert "Try fewer" not in proc.stdout


@pytest.mark.parametrize("limit", ["0", "101", "ten"])
def test_limit_out_of_range_names_the_search_command(
    limit: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["search", "diffusion", "--limit", limit])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "paperbot search: error: argument --limit: must be between 1 and 100" in err, err
    assert "usage: paperbot search" in err and "COMMAND" not in err


def test_human_output_links_papers_and_hides_internal_keys(paperbot_env: dict[str, str]) -> None:
    proc = run(paperbot_env, "search", "diffusion", "caching", "--limit", "3")
    assert proc.returncode == 0, proc.stderr
    assert "title:" not in proc.stdout
    links = re.findall(r"^\s+\S+\s+(https://\S+)$", proc.stdout, re.M)
    assert len(links) == 3 and all("huggingface.co/papers?q=" in u for u in links), proc.stdout
    rows = json.loads(run(paperbot_env, "search", "diffusion", "caching", "--json").stdout)
    assert all(r["id"] and r["link"].startswith("https://") for r in rows)



def test_search_leaves_no_background_threads_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Services.close() stops the search engine's refresher, not just the database."""
    env = {**make_cli_env(f"sqlite:///{tmp_path / 'p.db'}", tmp_path), "PAPERBOT_SEED": "1"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("LOG_LEVEL", raising=False)
    assert main(["search", "diffusion", "caching"]) == 0
    assert "cach" in capsys.readouterr().out.lower()
    alive = [t.name for t in threading.enumerate() if t.name.startswith("search-")]
    assert alive == []


IMPORTS_AFTER = """
import sys
from bot.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
heavy = {"sqlalchemy", "numpy", "scipy", "alembic", "slack_sdk", "slack_bolt"}
print("LOADED=" + ",".join(sorted({m.split(".")[0] for m in sys.modules} & heavy)), file=sys.stderr)
"""


def loaded_modules(env: dict[str, str], *args: str) -> set[str]:
    """Which heavy packages a `paperbot` command imported (run in a fresh interpreter)."""
    proc = subprocess.run(
        [sys.executable, "-c", IMPORTS_AFTER, *args],
        env=env, capture_output=True, text=True, timeout=120,
    )
    line = [x for x in proc.stderr.splitlines() if x.startswith("LOADED=")][-1]
    return set(filter(None, line.removeprefix("LOADED=").split(",")))


def test_help_and_a_search_on_a_saved_index_import_only_what_they_need(
    paperbot_env: dict[str, str],
) -> None:
    """Start-up time is imports: --help loads no database or numeric code, and a search
    that finds a current SQLite schema and a saved index loads only numpy (read-only through
    sqlite3: see tests/test_cli_fast.py), never Alembic, scipy or Slack code."""
    assert loaded_modules(paperbot_env, "--help") == set()
    assert loaded_modules(paperbot_env, "search", "--limit", "0", "x") == set()  # usage error
    first = run(paperbot_env, "search", "diffusion caching")  # seeds, builds, saves the index
    assert first.returncode == 0, first.stderr
    loaded = loaded_modules(paperbot_env, "search", "diffusion", "caching")
    if paperbot_env["DATABASE_URL"].startswith("sqlite"):
        assert loaded == {"numpy"}
    else:  # PostgreSQL: the full path
        assert loaded == {"sqlalchemy", "numpy"}
