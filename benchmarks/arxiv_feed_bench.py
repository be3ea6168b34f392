"""`paperbot fetch-arxiv` end to end: a day of cs.* announcements fetched, stored, indexed.

    python -m benchmarks.arxiv_feed_bench                 # by hand: 1,500 entries (issue 18)
    python -m benchmarks.arxiv_feed_bench --entries 5000  # a heavy day of all cs.* and more
    python -m benchmarks.arxiv_feed_bench --smoke         # CI: tests/test_arxiv_feed_bench_smoke

The day is one real-shaped RSS document (tests/fakes/arxiv_feeds.py over real HTTP on
127.0.0.1) of `--entries` items over eight cs.* categories: 70 % new, 20 % cross-lists, 10 %
replacements, synth.py titles and abstracts, 3-8 authors each. The figure is the wall time of
the real CLI in a subprocess on a fresh SQLite library (`--database-url` for another), start-up,
fetch, parse, upsert, search index build and save included: what a cron job waits for. The
issue's target is < 30 s for ~1,500 entries. A second run of the same day (everything
unchanged) is timed too. The pace is set to 0.1 s (one request here; arXiv's 3 s is a wait,
not work).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SMOKE_ENTRIES = 60
TARGET_S = 30.0
CATEGORIES = ("cs.CL", "cs.LG", "cs.CV", "cs.AI", "cs.RO", "cs.IR", "cs.CR", "cs.SD")
DAY = date(2026, 12, 4)
_FIRST = ("A.", "Wei", "Maria", "J.", "Yuki", "Ahmed", "Sofia", "Li", "Pierre", "K.")
_LAST = ("Smith", "Zhang", "Müller", "Garcia", "Kim", "Rossi", "Nguyen", "Ivanova", "Patel")
_LINE = re.compile(r"(\d+) new, (\d+) updated papers in (.+) \(announced (\d{4}-\d{2}-\d{2})\)")


def build_day(n: int, seed: int = 0) -> dict[str, list]:
    """The day's items per category (each paper listed under one category)."""
    from benchmarks import synth
    from tests.fakes.arxiv_feeds import FeedItem

    papers = synth.generate(n, seed)
    by_cat: dict[str, list] = {c: [] for c in CATEGORIES}
    for i, p in enumerate(papers):
        cat = CATEGORIES[i % len(CATEGORIES)]
        kind = "new" if i % 10 < 7 else "cross" if i % 10 < 9 else "replace"
        cats = (cat, CATEGORIES[(i + 3) % len(CATEGORIES)]) if i % 3 == 0 else (cat,)
        authors = tuple(
            f"{_FIRST[(i + k) % len(_FIRST)]} {_LAST[(i * 7 + k) % len(_LAST)]}"
            for k in range(3 + i % 6)
        )
        by_cat[cat].append(FeedItem(
            f"2612.{i:05d}", p.title, version=1 if kind != "replace" else 2,
            announce_type=kind, categories=cats, authors=authors, abstract=p.abstract,
        ))
    return by_cat


def run_once(env: dict[str, str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "bot.cli", "fetch-arxiv", *[f"--category={c}" for c in CATEGORIES]],
        env=env, capture_output=True, text=True, timeout=600, cwd=ROOT,
    )
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(f"fetch-arxiv failed ({out.returncode}):\n{out.stderr}")
    return wall, out.stdout.strip()


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entries", type=int, default=1_500)
    ap.add_argument("--smoke", action="store_true", help=f"{SMOKE_ENTRIES} entries (CI)")
    ap.add_argument("--database-url", help="default: a fresh SQLite file in a temp dir")
    ap.add_argument("--out", type=Path, help="also write the result as JSON here")
    args = ap.parse_args(argv)
    n = SMOKE_ENTRIES if args.smoke else args.entries
    sys.path.insert(0, str(ROOT))
    from tests.fakes.arxiv_feeds import FakeArxivFeeds

    with tempfile.TemporaryDirectory() as tmp, FakeArxivFeeds() as fake:
        for cat, items in build_day(n).items():
            fake.set_feed(cat, items, DAY)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PAPERBOT_", "SLACK_"))}
        env.update(
            DATABASE_URL=args.database_url or f"sqlite:///{Path(tmp) / 'paperbot.db'}",
            PAPERBOT_HOME=str(Path(tmp) / "home"),
            PAPERBOT_INDEX_DIR=str(Path(tmp) / "index"),
            PAPERBOT_ARXIV_RSS_URL=fake.rss_url,
            PAPERBOT_ARXIV_PACE="0.1",
            PAPERBOT_SEED="0",
            PAPERBOT_SCHEDULER="0",
            LOG_LEVEL="WARNING",
        )
        first, line = run_once(env)
        again, line2 = run_once(env)
        feed_bytes = len(fake._feed("+".join(CATEGORIES)).encode())
    m = _LINE.search(line)
    result = {
        "entries": n,
        "feed_bytes": feed_bytes,
        "stored_new": int(m.group(1)) if m else None,
        "wall_s": round(first, 2),
        "rerun_wall_s": round(again, 2),
        "target_s": TARGET_S,
        "report": [line, line2],
    }
    print(f"{n} entries ({feed_bytes / 1e6:.1f} MB feed): fetched, stored and indexed in "
          f"{first:.2f} s (target < {TARGET_S:.0f} s); same day again {again:.2f} s")
    print(f"  {line}")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        name = "arxiv_feed_smoke.json" if args.smoke else f"arxiv_feed_{n}.json"
        (args.out / name).write_text(json.dumps({"result": result}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
