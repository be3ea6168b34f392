"""The benchmark's CI mode runs end to end and its numbers hold together."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import search_bench


@pytest.mark.slow
def test_bench_smoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert search_bench.main(["--smoke", "--out", str(tmp_path), "--workdir", str(tmp_path)]) == 0
    out = json.loads((tmp_path / "smoke.json").read_text())["results"]["2000"]
    assert out["papers"] > 1900
    ours = out["ours"]
    assert ours["size"] == out["papers"]
    assert ours["max_rel_err_vs_rank_bm25_top10"] <= 1e-9
    assert 0 < ours["p50_ms"] <= ours["p95_ms"]
    assert ours["pruned_vs_exhaustive_mismatches"] == 0  # pruning changes no page
    assert 0 < ours["exhaustive_p50_ms"] <= ours["exhaustive_p95_ms"]
    # bm25s matches BM25Okapi only up to float32 rounding, and not at all when an idf is floored
    exact = out["bm25s"]["exactness"]
    assert exact["max_rel_err_plain_queries"] > 1e-9
    assert exact["max_rel_err_with_floored_idf"] > 1e-3
    for peer in ("rank_bm25", "bm25s", "fts5"):
        assert out[f"ratio_vs_{peer}"]["p50"] > 0
    assert "ours/peer" in capsys.readouterr().out


def test_sizes_parse() -> None:
    assert [search_bench.parse_size(s) for s in ("2000", "10k", "1M", "1.5m")] == [
        2000,
        10_000,
        1_000_000,
        1_500_000,
    ]
