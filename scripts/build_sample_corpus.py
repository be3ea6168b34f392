"""Regenerate bot/data/sample_papers.jsonl from the team's seed listings.

Run by hand when the seeds change:  python scripts/build_sample_corpus.py ../shared/seeds
PaperBot never reads the seeds at run time; it ships the JSONL this writes.
Stops (writing nothing) at the first malformed entry, naming its file and line.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bot.importers.errors import ImportFailed
from bot.importers.listing import parse_listing

OUT = Path(__file__).resolve().parent.parent / "bot" / "data" / "sample_papers.jsonl"


def main(seed_dir: str) -> int:
    seen: set[str] = set()
    rows = []
    paths = sorted(Path(seed_dir).glob("*.txt"))
    if not paths:
        print(f"no *.txt seed listings in {seed_dir}", file=sys.stderr)
        return 1
    try:
        for path in paths:
            for item in parse_listing(path):
                if item.error is not None:
                    raise ImportFailed(path, item.line, item.error)
                rec = item.record
                if rec is None or rec.title_key in seen:
                    continue
                seen.add(rec.title_key)
                rows.append({"title": rec.title, "abstract": rec.abstract})
    except ImportFailed as exc:
        print(f"build_sample_corpus: {exc}", file=sys.stderr)
        return 1
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} papers to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "../shared/seeds"))
