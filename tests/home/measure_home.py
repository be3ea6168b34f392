"""Latency of the App Home over real HTTP (signed events, fake Slack, SQLite with the 549
sample papers): `.venv/bin/python -m tests.home.measure_home [N]`.

Times from sending a signed app_home_opened (or a Save click inside the Home view) to the
view arriving at the fake's views.publish; prints p50/p95. The user has 5 saves, is in 3
channels with digests, and the workspace library has 5 papers (the saves joined it).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from storage import digest as subs
from tests.fakes.slack_api import TEAM_ID, FakeSlack
from tests.fakes.slack_payloads import (
    app_home_opened,
    block_actions,
    slash_command,
    view_block_actions,
)
from tests.listeners.support import make_services, responses, start

USER = "U0ALICE"


def _p(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] * 1000


def _wait(fake: FakeSlack, n: int) -> None:
    fake.wait_for(lambda: len(fake.home_views.get(USER, [])) >= n, timeout=30)


def main(n: int = 30) -> None:
    home = Path(tempfile.mkdtemp())
    with FakeSlack() as fake:
        running = start(make_services(f"sqlite:///{home / 'p.db'}", home / "home", fake))
        try:
            fake.member_of[USER] = ["C0GENERAL", "C0A", "C0B", "C0C"]
            with running.services.db.session() as s:
                for c in ("C0A", "C0B", "C0C"):
                    subs.subscribe(s, team_id=TEAM_ID, channel_id=c, topic="diffusion",
                                   post_time="09:00", tz="UTC", created_by=USER,
                                   now=datetime.now(UTC))
            body, ctype = slash_command("diffusion caching", response_url=fake.response_url("q"))
            running.sender.send(body, ctype)
            answer = fake.wait_for(lambda: responses(fake, "q"))[-1]
            for i, b in enumerate(x for x in answer["blocks"] if x["type"] == "actions"
                                  and x["block_id"].startswith("paper_acts_")):
                pid = b["elements"][1]["value"]
                body, ctype = block_actions(answer["blocks"], "paper_save", value=pid,
                                            response_url=fake.response_url(f"s{i}"))
                running.sender.send(body, ctype)
                fake.wait_for(lambda i=i: responses(fake, f"s{i}"))
            opened: list[float] = []
            for k in range(n):
                body, ctype, _ = app_home_opened(user=USER)
                t0 = time.perf_counter()
                running.sender.send(body, ctype)
                _wait(fake, k + 1)
                opened.append(time.perf_counter() - t0)
            clicked: list[float] = []
            for k in range(n):
                view = fake.home_views[USER][-1]
                body, ctype = view_block_actions(view, "paper_save", user=USER)
                t0 = time.perf_counter()
                running.sender.send(body, ctype)
                _wait(fake, n + k + 1)
                clicked.append(time.perf_counter() - t0)
        finally:
            running.stop()
    for name, xs in (("app_home_opened -> views.publish", opened),
                     ("Save in Home -> re-published", clicked)):
        print(f"{name}: n={len(xs)} p50={_p(xs, 0.5):.0f} ms p95={_p(xs, 0.95):.0f} ms "
              f"mean={statistics.mean(xs) * 1000:.0f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
