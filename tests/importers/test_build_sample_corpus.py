"""scripts/build_sample_corpus.py end to end on a tiny fixture seed directory: it writes the
same fields bot/data/sample_papers.jsonl holds, and a missing seed directory is one clear
line. (PaperBot itself never reads the seeds: only this script does, by hand.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "build_sample_corpus.py"
SEEDS = Path(__file__).parent / "data" / "seeds"
BUNDLED = ROOT / "bot" / "data" / "sample_papers.jsonl"


def build(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120, check=False)


def test_builds_the_bundled_format_from_a_seed_directory(tmp_path: Path) -> None:
    out = tmp_path / "sample.jsonl"
    before = BUNDLED.read_bytes()
    done = build(str(SEEDS), "--output", str(out), cwd=tmp_path)  # not run from the root
    assert done.returncode == 0, done.stderr
    assert BUNDLED.read_bytes() == before  # --output, not the bundled file
    rows = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert [r["title"] for r in rows] == [
        "Tiny Seeds for Sample Corpora",  # "Subscribe" glued to the first title is cut
        "Diffusion Caching Revisited",  # the second file's copy is a duplicate
        "Ünïcode Titles in Listings",
    ]
    assert "Ünïcode" in out.read_text("utf-8")  # UTF-8, not \\u escapes, as bundled
    bundled = [json.loads(line) for line in BUNDLED.read_text("utf-8").splitlines()]
    assert {tuple(sorted(r)) for r in rows} == {tuple(sorted(r)) for r in bundled} == {
        ("abstract", "title")}
    assert all(isinstance(v, str) and v for r in rows for v in r.values())
    assert f"wrote 3 papers to {out}" in done.stdout


def test_a_missing_seed_directory_is_one_clear_line(tmp_path: Path) -> None:
    out = tmp_path / "sample.jsonl"
    done = build(str(tmp_path / "nowhere"), "--output", str(out), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("build_sample_corpus: seed directory ")
    assert str(tmp_path / "nowhere") in done.stderr and "Traceback" not in done.stderr
    assert not out.exists()


def test_a_malformed_seed_stops_before_writing(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "bad.txt").write_text("One title\nAnother title\n", encoding="utf-8")
    out = tmp_path / "sample.jsonl"
    done = build(str(seeds), "--output", str(out), cwd=tmp_path)
    assert done.returncode == 1
    assert "bad.txt line 1: title with no abstract" in done.stderr, done.stderr
    assert not out.exists()
