"""Latency of the feedback surfaces over real HTTP (signed requests, fake Slack, SQLite with
the 549 sample papers): `.venv/bin/python -m tests.listeners.measure_feedback [N]`.

Times from sending the signed request to the answer arriving on the response_url (or the
signal's row being visible, for reactions); prints p50/p95 per surface.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from storage import feedback as fb
from tests.fakes.slack_api import TEAM_ID, FakeSlack
from tests.fakes.slack_payloads import block_actions, reaction, slash_command
from tests.listeners.support import make_services, responses, start


def _p(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] * 1000


def main(n: int = 30) -> None:
    home = Path(tempfile.mkdtemp())
    with FakeSlack() as fake:
        running = start(make_services(f"sqlite:///{home / 'p.db'}", home / "home", fake))
        times: dict[str, list[float]] = {"/papers search": [], "/papers recommend": [],
                                         "/papers saved": [], "Save click (re-render)": [],
                                         "More like this click": [], "reaction -> row": []}
        try:
            def command(text: str, name: str) -> dict:
                body, ctype = slash_command(text, response_url=fake.response_url(name))
                t = time.perf_counter()
                running.sender.send(body, ctype)
                out = fake.wait_for(lambda: responses(fake, name), timeout=30)[-1]
                key = "/papers " + (text.split()[0] if text.split()[0] in ("recommend", "saved")
                                    else "search")
                times[key].append(time.perf_counter() - t)
                return out

            def click(blocks: list, action: str, name: str, key: str, value: str) -> dict:
                body, ctype = block_actions(blocks, action, value=value,
                                            response_url=fake.response_url(name))
                t = time.perf_counter()
                running.sender.send(body, ctype)
                out = fake.wait_for(lambda: responses(fake, name), timeout=30)[-1]
                times[key].append(time.perf_counter() - t)
                return out

            queries = ["diffusion caching", "video generation", "reasoning models",
                       "speculative decoding", "robot learning"]
            for i in range(n):
                answer = command(queries[i % 5], f"q{i}")
                ids = [b["elements"][1]["value"] for b in answer["blocks"]
                       if b.get("block_id", "").startswith("paper_acts_")]
                click(answer["blocks"], "paper_save", f"s{i}", "Save click (re-render)", ids[0])
                click(answer["blocks"], "paper_similar", f"m{i}", "More like this click", ids[1])
                command("recommend", f"r{i}")
                command("saved", f"v{i}")
            ts = fake.posted() and None
            with running.services.db.session() as s:
                fb.remember_message(s, TEAM_ID, "C0GENERAL", "1.000001", int(ids[2]), "digest")
            for i in range(n):
                body, ctype, _ = reaction("fire" if i % 2 == 0 else "heart", channel="C0GENERAL",
                                          ts="1.000001", user=f"U{i:04d}")
                t = time.perf_counter()
                running.sender.send(body, ctype)
                deadline = time.time() + 10
                while time.time() < deadline:
                    with running.services.db.session() as s:
                        if fb.count(s, TEAM_ID, user_id=f"U{i:04d}"):
                            break
                    time.sleep(0.001)
                times["reaction -> row"].append(time.perf_counter() - t)
            del ts
        finally:
            running.stop()
    print(f"{n} rounds, SQLite, 549 papers, 2-core VM shared with other jobs")
    print(f"{'surface':28} {'p50 ms':>8} {'p95 ms':>8} {'mean ms':>8}")
    for key, xs in times.items():
        print(f"{key:28} {_p(xs, .5):8.1f} {_p(xs, .95):8.1f} {statistics.mean(xs) * 1000:8.1f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
