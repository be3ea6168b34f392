"""Regenerate bot/data/sample_papers.jsonl from the team's seed listings.

Run by hand when the seeds change (from anywhere; relative paths are the caller's):

    python scripts/build_sample_corpus.py [SEED_DIR] [--output FILE]

SEED_DIR holds the listings (*.txt, the Hugging Face papers page as copied text) and
defaults to ../shared/seeds beside the project root; FILE defaults to the bundled
bot/data/sample_papers.jsonl. Each line written is {"title", "abstract"}, the first copy of
each title kept. PaperBot never reads the seeds at run time; it ships the JSONL this writes.
Stops (writing nothing) at the first malformed entry, naming its file and line.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.importers.errors import ImportFailed
from bot.importers.listing import parse_listing

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bot" / "data" / "sample_papers.jsonl"
SEEDS = ROOT.parent / "shared" / "seeds"


class BuildError(Exception):
    """Printed as one line, exit status 2 (bad arguments) or 1 (bad seeds)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def sample_rows(seed_dir: Path) -> list[dict[str, str]]:
    """The corpus rows of every *.txt listing in `seed_dir` (sorted by name), deduplicated
    by normalized title; BuildError for a missing directory, no listings or a bad entry."""
    if not seed_dir.is_dir():
        raise BuildError(
            f"seed directory {seed_dir} not found (pass the directory of the seed listings: "
            "python scripts/build_sample_corpus.py SEED_DIR)", 2)
    paths = sorted(seed_dir.glob("*.txt"))
    if not paths:
        raise BuildError(f"no *.txt seed listings in {seed_dir}", 1)
    seen: set[str] = set()
    rows = []
    for path in paths:
        for item in parse_listing(path):
            if item.error is not None:
                raise BuildError(str(ImportFailed(path, item.line, item.error)), 1)
            rec = item.record
            if rec is None or rec.title_key in seen:
                continue
            seen.add(rec.title_key)
            rows.append({"title": rec.title, "abstract": rec.abstract})
    return rows


def write_rows(rows: list[dict[str, str]], out: Path) -> None:
    """One JSON object per line, UTF-8 as is; replaced whole, never half written."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    tmp.replace(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="build_sample_corpus", description="Regenerate the bundled sample corpus.")
    parser.add_argument("seed_dir", nargs="?", type=Path, default=SEEDS,
                        help=f"directory of *.txt seed listings (default {SEEDS})")
    parser.add_argument("-o", "--output", type=Path, default=OUT,
                        help=f"file to write (default {OUT})")
    args = parser.parse_args(argv)
    try:
        rows = sample_rows(args.seed_dir)
        write_rows(rows, args.output)
    except BuildError as exc:
        print(f"build_sample_corpus: {exc}", file=sys.stderr)
        return exc.status
    except OSError as exc:
        print(f"build_sample_corpus: cannot write {args.output}: {exc.strerror or exc}",
              file=sys.stderr)
        return 1
    print(f"wrote {len(rows)} papers to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
