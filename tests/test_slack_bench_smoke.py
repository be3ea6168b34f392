"""The Slack round-trip benchmark's CI mode runs end to end and its numbers hold together.

No timing thresholds: only that every signed /papers request was acked and answered on its
response_url with blocks, and that the recorded latencies are positive and ordered.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import slack_bench


@pytest.mark.slow
def test_slack_bench_smoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--smoke", "--out", str(tmp_path), "--workdir", str(tmp_path)]
    assert slack_bench.main(argv) == 0
    result = json.loads((tmp_path / "slack_smoke.json").read_text())["result"]
    assert result["papers"] > 1900
    for phase, n in (("sequential", 20), ("burst", 10)):
        s = result[phase]
        assert s["requests"] == n
        assert s["acked_200"] == n
        assert s["answered"] == n
        assert s["answers_with_blocks"] == n
        for what in ("ack", "answer"):
            v = s[what]
            assert 0 < v["p50_ms"] <= v["p95_ms"] <= v["max_ms"]
        stages = s["stages_p50_ms"]
        assert all(v > 0 for v in stages.values()), stages
        assert stages["search_s"] <= stages["find_s"]
    assert "answered 20/20" in capsys.readouterr().out

    # a rerun reuses the cached corpus and its saved index
    assert slack_bench.main(argv) == 0
    again = json.loads((tmp_path / "slack_smoke.json").read_text())["result"]
    assert again["corpus"]["cached"] is True
    assert again["papers"] == result["papers"]
    assert again["sequential"]["answered"] == 20
