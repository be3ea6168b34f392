"""One request to arXiv per interval across processes: two `paperbot backfill-arxiv`
processes started together on one database space their requests at the fake."""

from __future__ import annotations

import itertools
import subprocess

from tests.conftest import PAPERBOT
from tests.fakes.arxiv_feeds import FakeArxivFeeds, OaiRecord

PACE = 0.5


def test_two_processes_share_the_pace(
    arxiv_env: dict[str, str], fake_arxiv: FakeArxivFeeds
) -> None:
    fake_arxiv.records = [
        OaiRecord(f"2611.{i:05d}", f"Paper number {i}", categories="cs.CL") for i in range(6)
    ]
    fake_arxiv.page_size = 2  # 3 pages each: 6 requests from 2 processes
    env = {**arxiv_env, "PAPERBOT_ARXIV_PACE": str(PACE)}
    # Migrate first, so both processes start on a ready schema at the same moment.
    subprocess.run([*PAPERBOT, "migrate"], env=env, check=True, capture_output=True)
    cmd = [*PAPERBOT, "backfill-arxiv", "--category", "cs.CL", "--from", "2026-11-01"]
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    times = sorted(r.at for r in fake_arxiv.requests)
    assert len(times) == 6
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= PACE - 0.05, gaps
