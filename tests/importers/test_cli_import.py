"""`paperbot import` through the real console script, in a subprocess.

The kill test is the resumability promise: batches commit as they go, so an import
killed with SIGKILL mid-way is finished by running it again, with no duplicates.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.search.acronyms import FILE_NAME as ACRONYMS_FILE
from storage.db import Database
from storage.models import Paper
from tests.conftest import PAPERBOT
from tests.importers.conftest import count_rows, state, write_arxiv

LINES = 30_000


def paperbot(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PAPERBOT, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.slow
def test_killed_import_is_finished_by_rerunning_it(
    db: Database, paperbot_env: dict[str, str], tmp_path: Path
) -> None:
    big = write_arxiv(tmp_path / "arxiv-metadata-oai-snapshot.json", LINES)
    proc = subprocess.Popen(
        [*PAPERBOT, "import", str(big)], env=paperbot_env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while count_rows(db) == 0:  # wait for the first committed batch
            assert proc.poll() is None, "the import ended before committing anything"
            assert time.monotonic() < deadline, "no batch committed within 60 s"
            time.sleep(0.01)
        proc.kill()
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -9
    at_kill = count_rows(db)
    assert 0 < at_kill < LINES  # killed part-way, between batches

    done = paperbot(paperbot_env, "import", str(big))
    assert done.returncode == 0, done.stderr
    assert f"added {LINES - at_kill}, updated 0, unchanged {at_kill}" in done.stdout
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Paper)) == LINES
        assert s.scalar(select(func.count(func.distinct(Paper.arxiv_id)))) == LINES
        assert s.scalar(select(func.count(func.distinct(Paper.title_key)))) == LINES


def test_cli_refuses_a_bad_file_and_writes_nothing(
    db: Database, paperbot_env: dict[str, str], data: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "papers.jsonl"
    lines = (data / "arxiv_snapshot.jsonl").read_text().splitlines()
    bad.write_text("\n".join([lines[0], lines[1][:-25], lines[2]]) + "\n")
    before = state(db)
    result = paperbot(paperbot_env, "import", str(data / "hf_daily_papers.json"), str(bad))
    assert result.returncode != 0
    assert f"{bad} line 2: truncated JSON (" in result.stderr
    assert state(db) == before

    skipped = paperbot(paperbot_env, "import", "--skip-bad", str(bad))
    assert skipped.returncode == 0, skipped.stderr
    assert "added 2, updated 0, unchanged 0, skipped 1" in skipped.stdout
    assert f"{bad}:2: truncated JSON" in skipped.stdout
    assert count_rows(db) == 2


@pytest.mark.parametrize("blocker", ["disk full", "file in the way"])
def test_an_index_that_cannot_be_saved_is_one_clear_line_and_the_papers_stay(
    db: Database, paperbot_env: dict[str, str], data: Path, tmp_path: Path, blocker: str
) -> None:
    """The papers are committed before the search index is saved; a full disk (or anything
    else that stops the save) must say so in one line, not a traceback that reads as if the
    import had failed."""
    index_dir = Path(paperbot_env["PAPERBOT_INDEX_DIR"])
    if blocker == "disk full":
        # The acronym table is written first, to a fixed temporary name: /dev/full there
        # fails the write with a real ENOSPC.
        index_dir.mkdir()
        (index_dir / f"{ACRONYMS_FILE}.tmp").symlink_to("/dev/full")
        cause = "No space left on device"
    else:
        index_dir.write_text("not a directory\n")
        cause = "File exists"
    result = paperbot(paperbot_env, "import", str(data / "hf_daily_papers.json"))
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 1, result.stderr
    assert "added 3, updated 0, unchanged 0" in result.stdout
    assert (
        f"paperbot: the papers ARE imported, but the search index could not be saved in "
        f"{index_dir} ({cause})" in result.stderr
    )
    assert "`paperbot search`" in result.stderr and "`paperbot serve`" in result.stderr
    said = [line for line in result.stderr.splitlines() if "index" in line]
    assert len(said) == 1, result.stderr  # one line, not the engine's warning and then ours
    assert count_rows(db) == 3
