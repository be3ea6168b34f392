"""The `paperbot` command through its real console-script entry point."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from tests.conftest import PAPERBOT


def run(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PAPERBOT, *args], env=env, capture_output=True, text=True, timeout=timeout
    )


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
