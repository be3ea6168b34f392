"""The recommendation benchmark's CI mode runs end to end and its numbers hold together."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from benchmarks import recommend_bench


def test_metrics() -> None:
    rel = {1, 2, 3}
    assert recommend_bench.precision_at([1, 9, 2, 8, 7], rel) == pytest.approx(0.4)
    assert recommend_bench.ndcg_at([1, 2, 3], rel) == pytest.approx(1.0)
    assert recommend_bench.ndcg_at([9, 1, 2, 3], rel) < 1.0
    assert recommend_bench.ndcg_at([9, 8], rel) == 0.0


def test_judged_topics_name_real_papers_and_split() -> None:
    """Every judged title is exactly one paper of the bundled sample (the bench maps titles to
    ids); dev, held-out and the second dev set (dev2, judged later) all exist."""
    sample = Path(recommend_bench.__file__).parents[1] / "bot" / "data" / "sample_papers.jsonl"
    lines = sample.read_text(encoding="utf-8").splitlines()
    counts = Counter(json.loads(line)["title"] for line in lines)
    topics = recommend_bench.load_topics()
    assert len(topics) >= 10
    assert {t["split"] for t in topics} == {"dev", "test", "dev2"}
    for t in topics:
        assert len(t["titles"]) >= 6 and len(set(t["titles"])) == len(t["titles"])
        assert all(counts[title] == 1 for title in t["titles"]), t["name"]


@pytest.mark.slow
def test_bench_smoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        recommend_bench.main(["--smoke", "--out", str(tmp_path), "--workdir", str(tmp_path)]) == 0
    )
    body = json.loads((tmp_path / "recommend-smoke.json").read_text())
    for split in ("dev", "test"):
        methods = body["quality"][split]["methods"]
        for k in ("1", "3", "5"):
            assert 0 <= methods["random"][k]["p5"] <= 1
            # a model of three saved papers beats chance by far on any judged topic
            assert methods["recommend"]["3"]["p5"] > methods["random"]["3"]["p5"] + 0.2
        mlt = body["quality"][split]["more_like_this"]["more_like_this"]
        assert mlt["n"] > 0 and mlt["p5"] > 0.2
    cost = body["cost"][0]
    assert cost["papers"] == 5_000
    assert 0 < cost["per_k"]["3"]["profile_p50_ms"] < 1000
    out = capsys.readouterr().out
    assert "held-out test topics" in out and "| recommend |" in out
