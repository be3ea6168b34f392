"""`paperbot search --since/--until` when some or all of the matching papers have no
publication date (listings and the bundled sample have none): the message says so."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.conftest import PAPERBOT

LISTING = """Sparse attention without a date
We study sparse attention in long documents and find that it scales to a million tokens well.
Another sparse attention paper
A second look at sparse attention patterns shows that they transfer across model sizes too.
"""
ARXIV = {"id": "2401.00001", "title": "Dated sparse attention", "abstract": "Attention.",
         "update_date": "2024-01-02"}


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PAPERBOT, *args], env=env, capture_output=True, text=True,
                          timeout=120, check=False)


def test_undated_matches_are_counted_when_a_date_filter_excludes_everything(
    db_url: str, paperbot_env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "listing.txt").write_text(LISTING, encoding="utf-8")
    done = run(paperbot_env, "import", str(tmp_path / "listing.txt"))
    assert done.returncode == 0, done.stderr
    only_undated = run(paperbot_env, "search", "sparse", "attention", "--since", "2025-01-01")
    assert only_undated.returncode == 0, only_undated.stderr
    assert only_undated.stdout.strip() == (
        "No papers match 'sparse attention' published since 2025-01-01: the 2 papers that "
        "match have no publication date, so --since cannot place them. Leave out --since to "
        "see them.")

    (tmp_path / "arxiv.jsonl").write_text(json.dumps(ARXIV) + "\n", encoding="utf-8")
    done = run(paperbot_env, "import", str(tmp_path / "arxiv.jsonl"))
    assert done.returncode == 0, done.stderr
    mixed = run(paperbot_env, "search", "sparse", "attention", "--since", "2025-01-01")
    assert mixed.returncode == 0, mixed.stderr
    assert mixed.stdout.strip() == (
        "No papers match 'sparse attention' published since 2025-01-01 (3 match without that "
        "filter; 2 of them have no publication date, which --since cannot place).")
    found = run(paperbot_env, "search", "sparse", "attention", "--since", "2024-01-01")
    assert "Dated sparse attention" in found.stdout, found.stdout
