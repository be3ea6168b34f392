"""The category digest benchmark's smoke mode runs the real planning path (candidates from
the database, the learned order) and its numbers hold together; no timing threshold (the
50 ms target is the benchmark's, not a test's)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import category_digest_bench as bench


@pytest.mark.slow
def test_category_digest_bench_smoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--smoke", "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "category_digest_smoke.json").read_text())
    [q] = result["quality"]
    assert q["trials"] == 2 and q["on_topic_in_day"] == bench.ON_TOPIC
    assert q["learned_from"] == [bench.SAVES]  # the model ranked the day, from the 3 saves
    assert 0 <= q["top5_min"] <= q["top5_mean"] <= 5
    [c] = result["cost"]
    assert c["papers"] == 3_000 and c["day"] == 1_500
    for k in (bench.SAVES, 10):
        assert c[f"saves_{k}"]["candidates_median"] == 375  # two of eight categories
        assert 0 < c[f"saves_{k}"]["p50_ms"] <= c[f"saves_{k}"]["max_ms"]
    assert "on-topic in top 5" in capsys.readouterr().out
