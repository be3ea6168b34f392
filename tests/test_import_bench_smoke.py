"""The import benchmark's CI mode runs the real CLI end to end and its numbers hold together.

No timing thresholds: only that the generated snapshot is what the CLI imports (every line
added, every paper indexed), that the phases it reports fit inside the wall time, and that
a second call reuses the cached input.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import import_bench


@pytest.mark.slow
def test_import_bench_smoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--smoke", "--workdir", str(tmp_path), "--out", str(tmp_path)]
    assert import_bench.main(argv) == 0
    result = json.loads((tmp_path / "import_smoke.json").read_text())["result"]
    n = import_bench.SMOKE_LINES
    assert result["lines"] == n
    assert f"added {n}, updated 0, unchanged 0, skipped 0" in result["report"][0]
    assert result["papers_indexed"] == n  # the CLI built the index over every paper
    assert 0 < result["import_s"] < result["wall_s"]
    assert 0 < result["build_s"] < result["wall_s"]
    phases = result["import_phases_s"]
    assert set(phases) == {"check", "write"}
    assert sum(phases.values()) <= result["import_s"] + 0.2  # rounding of the logged figures
    assert result["peak_rss_mb"] > 0
    assert result["peak_rss_with_workers_mb"] >= result["peak_rss_mb"]
    out = capsys.readouterr().out
    assert "written in" in out and f"{n} lines: wall" in out

    # the snapshot's lines are arXiv-shaped, with unique ids
    lines = (tmp_path / lines_name(n)).read_text(encoding="utf-8").splitlines()
    entries = [json.loads(line) for line in lines]
    assert len({e["id"] for e in entries}) == n
    assert {"id", "title", "abstract", "authors", "categories", "update_date", "versions"} <= set(
        entries[0]
    )

    assert import_bench.snapshot_file(tmp_path, n) == (tmp_path / lines_name(n), True)  # reused


def lines_name(n: int) -> str:
    return f"arxiv_snapshot_{n}_s0.jsonl"
