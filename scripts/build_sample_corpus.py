"""Regenerate bot/data/sample_papers.jsonl from the team's seed listings.

Run by hand when the seeds change:  python scripts/build_sample_corpus.py ../shared/seeds
PaperBot never reads the seeds at run time; it ships the JSONL this writes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bot.importers.listing import parse_listing
from storage.papers import title_key

OUT = Path(__file__).resolve().parent.parent / "bot" / "data" / "sample_papers.jsonl"


def main(seed_dir: str) -> None:
    seen: set[str] = set()
    rows = []
    for path in sorted(Path(seed_dir).glob("*.txt")):
        for item in parse_listing(path):
            rec = item.record
            if rec is None or rec.title_key in seen:
                continue
            seen.add(title_key(rec.title))
            rows.append({"title": rec.title, "abstract": rec.abstract})
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} papers to {OUT}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/seeds")
