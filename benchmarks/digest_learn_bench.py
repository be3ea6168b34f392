"""Learned digests on the bundled sample corpus: how many on-topic papers reach the top 5,
trending vs learned, at a few blend weights, and what planning the order costs.

    python -m benchmarks.digest_learn_bench                      # diffusion, weights 0.5/0.75/1
    python -m benchmarks.digest_learn_bench --topic video --weights 0.75

A channel saves N papers that mention the topic (N = 3, 10, 30). Each of 20 trials draws a
day of 30 candidates from the rest of the library, 6 of them on the topic, with synthetic
upvotes (log-normal: the sample corpus has none), and orders them twice: trending (upvotes)
and learned (bot.digest.learn.channel_order: the model blended with upvotes as a prior).
Reported per N: on-topic papers in the top 5 (trending, learned), the mean upvotes of the
learned top 5 (what the prior keeps), and the median time of channel_order and of
personal_order (which also asks the model for library picks).
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import select

from bot.config import Config
from bot.digest import learn
from bot.digest.store import Candidate
from bot.services import Services
from storage import feedback
from storage.models import Feedback, Paper, Subscription

TRIALS = 20
DAY = 30
ON_TOPIC = 6


def run(topic: str, weights: list[float]) -> None:
    home = Path(tempfile.mkdtemp(prefix="digest-learn-"))
    config = Config.from_env(
        {
            "DATABASE_URL": f"sqlite:///{home / 'bench.db'}",
            "PAPERBOT_HOME": str(home),
            "PAPERBOT_INDEX_DIR": str(home / "index"),
            "PAPERBOT_SCHEDULER": "0",
        }
    )
    services = Services.create(config, seed=True)
    with services.db.session() as s:
        papers = s.execute(select(Paper.id, Paper.title, Paper.abstract)).all()
    on = [p.id for p in papers if topic in f"{p.title} {p.abstract}".lower()]
    off = [p.id for p in papers if p.id not in set(on)]
    print(f"library {len(papers)} papers, {len(on)} mention {topic!r}")
    channel = Subscription(team_id="T1", channel_id="C1", topic="", for_user=None)
    personal = Subscription(team_id="T1", channel_id="D1", topic="", for_user="U1")
    for weight in weights:
        learn.LEARNED_WEIGHT = weight
        rng = random.Random(0)
        for n in (3, 10, 30):
            if n + ON_TOPIC > len(on):
                continue
            saved = rng.sample(on, n)
            with services.db.session() as s:
                s.execute(Feedback.__table__.delete())
                for pid in saved:
                    feedback.set_save(s, "T1", "U1", "C1", pid, True)
            rest = [p for p in on if p not in saved]
            hits_t, hits_l, ups, t_ch, t_pe = [], [], [], [], []
            for _ in range(TRIALS):
                pool = rng.sample(rest, ON_TOPIC) + rng.sample(off, DAY - ON_TOPIC)
                votes = {pid: int(math.exp(rng.gauss(3, 1))) for pid in pool}
                cands = sorted(
                    (Candidate(pid, votes[pid]) for pid in pool),
                    key=lambda c: (-c.upvotes, c.paper_id),
                )
                t0 = time.perf_counter()
                order = learn.channel_order(services, channel, cands)
                t_ch.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                learn.personal_order(services, personal, cands, 5)
                t_pe.append(time.perf_counter() - t0)
                top = order.paper_ids[:5]
                hits_l.append(sum(pid in set(rest) for pid in top))
                hits_t.append(sum(c.paper_id in set(rest) for c in cands[:5]))
                ups.append(statistics.mean(votes[pid] for pid in top))
            print(
                f"weight {weight:.2f}  {n:2d} saves: on-topic in top 5 (of {ON_TOPIC} in "
                f"{DAY}) trending {statistics.mean(hits_t):.2f} learned "
                f"{statistics.mean(hits_l):.2f}; learned top 5 mean upvotes "
                f"{statistics.mean(ups):.0f}; median channel_order "
                f"{1000 * statistics.median(t_ch):.1f} ms, personal_order "
                f"{1000 * statistics.median(t_pe):.1f} ms"
            )
    services.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topic", default="diffusion")
    parser.add_argument("--weights", default="0.5,0.75,1.0")
    args = parser.parse_args()
    run(args.topic.lower(), [float(w) for w in args.weights.split(",")])


if __name__ == "__main__":
    main()
