"""The relevance benchmark's CI mode runs, its metrics are in [0, 1], and its judgments
name real papers of the bundled sample."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import relevance_bench


def test_metrics() -> None:
    rel = {"a", "b", "c"}
    assert relevance_bench.precision_at(["a", "x", "b", "y", "z"], rel) == pytest.approx(0.4)
    assert relevance_bench.ndcg_at(["a", "b", "c"], rel) == pytest.approx(1.0)
    assert 0 < relevance_bench.ndcg_at(["x", "a", "b", "c"], rel) < 1.0
    assert relevance_bench.reciprocal_rank(["x", "y", "a"], rel) == pytest.approx(1 / 3)
    assert relevance_bench.reciprocal_rank(["x"], rel) == 0.0


def test_judgments_name_real_papers_and_split() -> None:
    titles = {p["title"] for p in relevance_bench.load_papers()}
    queries = relevance_bench.load_queries()
    assert len(queries) >= 40
    assert len({q["query"] for q in queries}) == len(queries)
    assert {q["split"] for q in queries} == {"dev", "test", "fresh", "fresh2"}
    for q in queries:
        rel, notrel = set(q["relevant"]), set(q["judged_not_relevant"])
        assert rel, q["query"]
        assert not rel & notrel, q["query"]
        assert rel <= titles and notrel <= titles, q["query"]


def test_known_items_are_deterministic() -> None:
    papers = relevance_bench.load_papers()
    assert relevance_bench.known_item_queries(papers, 10) == relevance_bench.known_item_queries(
        papers, 10
    )


def test_bench_smoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        relevance_bench.main(["--smoke", "--out", str(tmp_path), "--workdir", str(tmp_path)]) == 0
    )
    body = json.loads((tmp_path / "relevance-smoke.json").read_text())
    for split in ("dev", "test", "fresh", "fresh2"):
        systems = body["quality"][split]["systems"]
        assert set(systems) == {"ours", "ours-stage1", "bm25-tok", "bm25-ws"}
        for m in systems.values():
            for k in ("p5", "ndcg10", "mrr"):
                assert 0 <= m[k] <= 1
            assert m["unjudged_top5"] >= 0
    for m in body["known_item"].values():
        assert all(0 <= v <= 1 for v in m.values())
    out = capsys.readouterr().out
    assert "fresh held-out" in out and "| ours |" in out
