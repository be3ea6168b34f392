"""The arXiv feed benchmark's smoke mode runs the real CLI end to end and its numbers hold
together (no timing threshold: the < 30 s target is the benchmark's, not a test's)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import arxiv_feed_bench


@pytest.mark.slow
def test_arxiv_feed_bench_smoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert arxiv_feed_bench.main(["--smoke", "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "arxiv_feed_smoke.json").read_text())["result"]
    n = arxiv_feed_bench.SMOKE_ENTRIES
    assert result["entries"] == n and result["stored_new"] == n
    assert result["report"][0].startswith(f"{n} new, 0 updated papers in cs.CL, cs.LG")
    assert result["report"][0].endswith("(announced 2026-12-04)")
    assert result["report"][1].startswith("0 new, 0 updated papers")  # the same day again
    assert result["wall_s"] > 0 and result["feed_bytes"] > 0
    assert "fetched, stored and indexed in" in capsys.readouterr().out
