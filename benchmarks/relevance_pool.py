"""Pool new queries' candidate papers for judging, without showing who ranked them where.

    python -m benchmarks.relevance_pool NEW_QUERIES.jsonl OUT_DIR [--depth 20]

NEW_QUERIES.jsonl: one `{"query": ..., "title_pattern": ...}` a line (`title_pattern`, optional,
is a case-insensitive regex: every paper whose title matches joins the pool, so papers no
system ranks high are judged too). For each query the pool is the union of the top `depth` of
every system in relevance_bench plus the title matches, written to OUT_DIR/NN.md sorted by
title with the whole abstract, no ranks and no system names: a judge reads it blind. Then
OUT_DIR/judgments.jsonl holds a template line per query (`relevant` and
`judged_not_relevant` both empty, `pool` the titles) to fill in.
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

from benchmarks.relevance_bench import bm25_ranker, load_papers, our_ranker, ws_tokens
from bot.search.tokenizer import DEFAULT_TOKENIZER


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("queries", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--depth", type=int, default=20, help="top results taken from each system")
    args = ap.parse_args(argv)

    papers = load_papers()
    abstracts = {p["title"]: p["abstract"] for p in papers}
    wanted = [json.loads(line) for line in args.queries.read_text().splitlines() if line.strip()]
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        ours, first_stage, close = our_ranker(papers, Path(tmp), depth=args.depth)
        try:
            rankers = [
                ours,
                first_stage,
                bm25_ranker(papers, DEFAULT_TOKENIZER.tokenize, args.depth),
                bm25_ranker(papers, ws_tokens, args.depth),
            ]
            templates = []
            for n, q in enumerate(wanted, 1):
                pool = {t for rank in rankers for t in rank(q["query"])}
                if q.get("title_pattern"):
                    pattern = re.compile(q["title_pattern"], re.IGNORECASE)
                    pool |= {p["title"] for p in papers if pattern.search(p["title"])}
                titles = sorted(pool, key=str.lower)
                lines = [f"# {n:02d}: {q['query']}", f"{len(titles)} papers", ""]
                for i, title in enumerate(titles, 1):
                    lines += [f"## [{i}] {title}", "", abstracts[title], ""]
                (args.out / f"{n:02d}.md").write_text("\n".join(lines), encoding="utf-8")
                templates.append(
                    {"query": q["query"], "pool": titles, "relevant": [], "judged_not_relevant": []}
                )
        finally:
            close()
    (args.out / "judgments.jsonl").write_text(
        "".join(json.dumps(t, ensure_ascii=False) + "\n" for t in templates), encoding="utf-8"
    )
    pooled = sum(len(t["pool"]) for t in templates)
    print(f"{len(wanted)} queries pooled into {args.out} ({pooled} papers)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
