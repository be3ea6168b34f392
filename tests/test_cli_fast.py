"""`paperbot search`'s read-only path (sqlite3, no SQLAlchemy) answers exactly as the full path.

Each case runs the real command twice on the same database: once where the read-only path
can answer (current schema and saved index), once with an empty index directory, where it
cannot (the full path then builds an index). LOG_LEVEL=DEBUG makes the command say which
path answered; the comparison leaves those log lines out.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from storage.db import Database
from storage.papers import PaperRecord, upsert_papers
from tests.conftest import make_cli_env
from tests.test_cli import run

FAST = "searching read-only through sqlite3"
NOT_FAST = "read-only search not possible"
def answered_read_only(stderr: str) -> bool:
    """Whether the read-only path answered, from the command's DEBUG lines."""
    return FAST in stderr and NOT_FAST not in stderr


_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ ")


def _env(tmp: Path) -> dict[str, str]:
    return {
        **make_cli_env(f"sqlite:///{tmp / 'paperbot.db'}", tmp),
        "PAPERBOT_SEED": "1",
        "LOG_LEVEL": "DEBUG",
    }


def _seeded(tmp: Path) -> dict[str, str]:
    """A database with the bundled corpus and a current saved index (the first search's)."""
    env = _env(tmp)
    first = run(env, "search", "warm", "up")
    assert first.returncode == 0, first.stderr
    assert NOT_FAST in first.stderr  # no database yet: the full path created and seeded it
    return env


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return _seeded(tmp_path_factory.mktemp("fast"))


def _shown(proc: subprocess.CompletedProcess[str]) -> tuple[int, str, str]:
    """What a user sees: exit status, stdout, stderr without the DEBUG/INFO log lines."""
    stderr = "".join(
        line for line in proc.stderr.splitlines(keepends=True) if not _LOG_LINE.match(line)
    )
    return proc.returncode, proc.stdout, stderr


CASES = [
    ("diffusion", "caching"),
    ("kv cache compression", "--limit", "100"),
    ("kv cache compression", "--json"),
    ("RLHF", "reward", "model", "--explain"),
    ("speculative decoding", "--json", "--explain", "--limit", "3"),
    ("language model", "--source", "sample", "--limit", "5"),
    ("language model", "--source", "nosuch"),
    ("language model", "--since", "2020-01-01", "--until", "2030-12-31"),
    ("zyzzyva", "xylophone"),
    ("the", "of"),  # only stopwords: a usage error, exit 2
]


@pytest.mark.parametrize("args", CASES, ids=[" ".join(c) for c in CASES])
def test_read_only_path_prints_what_the_full_path_prints(
    library: dict[str, str], tmp_path: Path, args: tuple[str, ...]
) -> None:
    fast = run(library, "search", *args)
    assert answered_read_only(fast.stderr), fast.stderr
    full = run({**library, "PAPERBOT_INDEX_DIR": str(tmp_path / "empty")}, "search", *args)
    assert NOT_FAST in full.stderr and FAST not in full.stderr, full.stderr
    assert _shown(fast) == _shown(full)
    assert fast.stdout or fast.returncode == 2


def test_results_are_real(library: dict[str, str]) -> None:
    """The comparison above is not between two empty outputs."""
    proc = run(library, "search", "diffusion", "caching", "--explain")
    assert proc.returncode == 0 and answered_read_only(proc.stderr), proc.stderr
    lines = proc.stdout.splitlines()
    assert re.match(r"\s*1\s+\d+\.\d{3}\s+\S", lines[0]), proc.stdout
    assert "why: BM25 rank" in proc.stdout and "matching papers" in lines[-1]


IMPORTS_AFTER = """
import sys
from bot.cli import main
status = main(sys.argv[1:])
heavy = {"sqlalchemy", "alembic", "scipy", "slack_sdk", "slack_bolt", "numpy"}
print("LOADED=" + ",".join(sorted({m.split(".")[0] for m in sys.modules} & heavy)), file=sys.stderr)
sys.exit(status)
"""


def _search_loading(env: dict[str, str], *words: str) -> tuple[str, str, set[str]]:
    """stdout, stderr and the heavy packages loaded by a search in a fresh interpreter."""
    proc = subprocess.run(
        [sys.executable, "-c", IMPORTS_AFTER, "search", *words],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    line = [x for x in proc.stderr.splitlines() if x.startswith("LOADED=")][-1]
    return proc.stdout, proc.stderr, set(filter(None, line.removeprefix("LOADED=").split(",")))


def test_read_only_path_loads_no_sqlalchemy(library: dict[str, str]) -> None:
    _, stderr, loaded = _search_loading(library, "kv", "cache", "compression")
    assert answered_read_only(stderr)
    assert loaded == {"numpy"}  # never SQLAlchemy, Alembic, scipy or Slack


def test_papers_added_by_another_process_go_through_the_full_path(tmp_path: Path) -> None:
    env = _seeded(tmp_path)
    db = Database(env["DATABASE_URL"])
    with db.session() as s:
        upsert_papers(
            s,
            [PaperRecord(title="Zyzzyva: speculative Byzantine fault tolerance",
                         abstract="Replicas respond speculatively.", source="test")],
        )
    db.dispose()
    stdout, stderr, loaded = _search_loading(env, "zyzzyva")
    assert NOT_FAST in stderr and "behind" in stderr and FAST not in stderr
    assert "sqlalchemy" in loaded
    assert "Zyzzyva: speculative Byzantine fault tolerance" in stdout.splitlines()[0]
    # That search saved the caught-up index, so the next one is read-only again.
    again, stderr, loaded = _search_loading(env, "zyzzyva")
    assert answered_read_only(stderr) and loaded == {"numpy"}
    assert again == stdout


def test_a_saved_index_that_fails_its_checksum_falls_back_and_is_rebuilt(tmp_path: Path) -> None:
    """The manifest check passes (same size), loading fails: the full path answers."""
    env = _seeded(tmp_path)
    before = run(env, "search", "diffusion", "caching")
    assert answered_read_only(before.stderr)
    data = next(Path(env["PAPERBOT_INDEX_DIR"]).glob("segments-*.npz"))
    raw = bytearray(data.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    data.write_bytes(bytes(raw))
    after = run(env, "search", "diffusion", "caching")
    assert NOT_FAST in after.stderr and "checksum" in after.stderr, after.stderr
    assert _shown(after) == _shown(before)
    again = run(env, "search", "diffusion", "caching")  # the rebuilt index was saved
    assert answered_read_only(again.stderr) and _shown(again) == _shown(before)


def test_read_only_path_does_not_write_the_database(library: dict[str, str]) -> None:
    db_file = Path(library["DATABASE_URL"].removeprefix("sqlite:///"))
    before = db_file.read_bytes()
    proc = run(library, "search", "diffusion", "caching")
    assert answered_read_only(proc.stderr)
    assert db_file.read_bytes() == before
