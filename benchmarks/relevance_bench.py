"""Relevance benchmark: how good is our search ranking on the bundled sample papers?

    python -m benchmarks.relevance_bench            # all judged queries + known-item at 200 papers
    python -m benchmarks.relevance_bench --smoke    # CI: a handful of queries, seconds

Queries and judgments: benchmarks/relevance_data/queries.jsonl (see its README for how they
were judged). Each query has a split: `dev` (tune on these) or `test` (held out: never tune on
it). Systems, all over the same 549 papers of bot/data/sample_papers.jsonl:

- `ours`: SearchEngine over a SQLite library the papers were imported into (the real path);
- `bm25-tok`: plain rank-bm25 BM25Okapi over our tokenizer's tokens of title + abstract
  (no title weighting);
- `bm25-ws`: rank-bm25 BM25Okapi over naive lowercase whitespace tokens of title + abstract.

Metrics per split: P@5, nDCG@10 (binary gains, ideal = all judged-relevant papers), MRR (of
the first relevant paper in the top 10, else 0). Unjudged papers count as not relevant; the
table shows how many unjudged papers appeared in each system's top 5, summed over queries,
so a ranking change knows which new results to judge. Known-item recall@10: for N papers
sampled with a fixed seed, is the paper in the top 10 for (a) its exact title, (b) 3 of its
title words, (c) 5 of its abstract words (words sampled with the same seed).
Results: a table on stdout and JSON in benchmarks/results/.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from rank_bm25 import BM25Okapi

from benchmarks.report import stamp, write_json
from bot.search.engine import QueryError, SearchEngine
from bot.search.tokenizer import DEFAULT_TOKENIZER

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "bot" / "data" / "sample_papers.jsonl"
QUERIES = Path(__file__).resolve().parent / "relevance_data" / "queries.jsonl"
RESULTS = Path(__file__).resolve().parent / "results"
SEED = 12
SPLITS = (
    ("dev", "development"),
    ("test", "first held-out round (seen in aggregate twice)"),
    ("fresh", "second round (blind; one aggregate look, then used for development)"),
    ("fresh2", "fresh held-out (blind, written and judged after the method was frozen)"),
)
SMOKE_QUERIES = 3  # per split
Ranker = Callable[[str], list[str]]  # query -> top-10 titles, best first


def load_papers() -> list[dict]:
    return [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line]


def load_queries(path: Path = QUERIES) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


# ----- metrics ---------------------------------------------------------------------------


def precision_at(ranked: Sequence[str], rel: set[str], k: int = 5) -> float:
    return sum(t in rel for t in ranked[:k]) / k


def ndcg_at(ranked: Sequence[str], rel: set[str], k: int = 10) -> float:
    dcg = sum(1 / math.log2(i + 2) for i, t in enumerate(ranked[:k]) if t in rel)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(k, len(rel))))
    return dcg / ideal if ideal else 0.0


def reciprocal_rank(ranked: Sequence[str], rel: set[str], k: int = 10) -> float:
    for i, t in enumerate(ranked[:k]):
        if t in rel:
            return 1 / (i + 1)
    return 0.0


# ----- systems ---------------------------------------------------------------------------


def ws_tokens(text: str) -> list[str]:
    return text.lower().split()


def bm25_ranker(
    papers: Sequence[dict], tokenize: Callable[[str], list[str]], depth: int = 10
) -> Ranker:
    titles = [p["title"] for p in papers]
    bm25 = BM25Okapi([tokenize(f"{p['title']} {p['abstract']}") for p in papers])

    def rank(query: str) -> list[str]:
        toks = tokenize(query)
        if not toks:
            return []
        scores = bm25.get_scores(toks)
        order = np.lexsort((np.arange(len(scores)), -scores))[:depth]  # ties: corpus order
        return [titles[i] for i in order if scores[i] > 0]

    return rank


def our_ranker(
    papers: Sequence[dict], workdir: Path, depth: int = 10
) -> tuple[Ranker, Ranker, Callable[[], None]]:
    """Import the papers through the real ingest path and search them with SearchEngine."""
    from storage.db import Database
    from storage.papers import PaperRecord, upsert_papers

    db = Database(f"sqlite:///{workdir / 'relevance.db'}")
    db.migrate()
    with db.session() as session:
        upsert_papers(
            session,
            [
                PaperRecord(title=p["title"], abstract=p["abstract"], source="sample")
                for p in papers
            ],
        )
    from sqlalchemy import text

    with db.session() as session:
        id_title = dict(session.execute(text("SELECT id, title FROM papers")).all())
    assert len(id_title) == len(papers), "every sample paper must be its own row"
    engine = SearchEngine(db, refresh_interval=None)
    engine.warm()

    def rank(query: str) -> list[str]:
        try:
            return [id_title[h.paper_id] for h in engine.ranked(query, limit=depth).hits]
        except QueryError:
            return []

    def first_stage(query: str) -> list[str]:
        try:
            return [id_title[h.paper_id] for h in engine.search(query, limit=depth).hits]
        except QueryError:
            return []

    def close() -> None:
        engine.close()
        db.dispose()

    return rank, first_stage, close


# ----- runs ------------------------------------------------------------------------------


def judged_quality(rankers: dict[str, Ranker], queries: Sequence[dict]) -> dict:
    out: dict = {}
    for split, _ in SPLITS:
        qs = [q for q in queries if q["split"] == split]
        out[split] = {"queries": len(qs), "systems": {}}
        for name, rank in rankers.items():
            p5, nd, rr, unjudged, per_query = [], [], [], 0, {}
            for q in qs:
                ranked = rank(q["query"])
                rel = set(q["relevant"])
                judged = rel | set(q["judged_not_relevant"])
                p5.append(precision_at(ranked, rel))
                nd.append(ndcg_at(ranked, rel))
                rr.append(reciprocal_rank(ranked, rel))
                new = [t for t in ranked[:5] if t not in judged]
                unjudged += len(new)
                per_query[q["query"]] = {"top10": ranked, "p5": p5[-1], "unjudged_top5": new}
            n = max(len(qs), 1)
            out[split]["systems"][name] = {
                "p5": sum(p5) / n,
                "ndcg10": sum(nd) / n,
                "mrr": sum(rr) / n,
                "unjudged_top5": unjudged,
                "per_query": per_query,
            }
    return out


def known_item_queries(papers: Sequence[dict], n: int, seed: int = SEED) -> list[dict]:
    """N papers with three queries each; deterministic for a seed."""
    rng = random.Random(seed)
    out = []
    for i in sorted(rng.sample(range(len(papers)), n)):
        p = papers[i]
        title_words = p["title"].split()
        abstract_words = p["abstract"].split()
        out.append(
            {
                "title": p["title"],
                "exact title": p["title"],
                "3 title words": " ".join(rng.sample(title_words, min(3, len(title_words)))),
                "5 abstract words": " ".join(
                    rng.sample(abstract_words, min(5, len(abstract_words)))
                ),
            }
        )
    return out


KNOWN_KINDS = ("exact title", "3 title words", "5 abstract words")


def known_item(rankers: dict[str, Ranker], items: Sequence[dict]) -> dict:
    return {
        name: {
            kind: sum(it["title"] in rank(it[kind])[:10] for it in items) / max(len(items), 1)
            for kind in KNOWN_KINDS
        }
        for name, rank in rankers.items()
    }


def print_tables(quality: dict, known: dict, n_known: int) -> None:
    for split, label in SPLITS:
        q = quality[split]
        print(f"\n{label} queries (n = {q['queries']})\n")
        print("| system | P@5 | nDCG@10 | MRR | unjudged in top 5 |")
        print("|---|---|---|---|---|")
        for name, m in q["systems"].items():
            scores = f"{m['p5']:.2f} | {m['ndcg10']:.2f} | {m['mrr']:.2f}"
            print(f"| {name} | {scores} | {m['unjudged_top5']} |")
    print(f"\nknown-item recall@10 ({n_known} papers, seed {SEED})\n")
    print("| system | " + " | ".join(KNOWN_KINDS) + " |")
    print("|---|" + "---|" * len(KNOWN_KINDS))
    for name, m in known.items():
        print(f"| {name} | " + " | ".join(f"{m[k]:.2f}" for k in KNOWN_KINDS) + " |")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--smoke", action="store_true", help=f"{SMOKE_QUERIES} queries per split (CI)")
    ap.add_argument("--known", type=int, default=200, help="papers sampled for known-item recall")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--workdir", type=Path, default=None, help="where the SQLite file goes")
    args = ap.parse_args(argv)

    papers = load_papers()
    queries = load_queries()
    if args.smoke:
        queries = [
            q
            for split, _ in SPLITS
            for q in [x for x in queries if x["split"] == split][:SMOKE_QUERIES]
        ]
        args.known = min(args.known, 20)
    when = stamp()
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        ours, first_stage, close = our_ranker(papers, Path(tmp))
        try:
            rankers = {
                "ours": ours,
                "ours-stage1": first_stage,
                "bm25-tok": bm25_ranker(papers, DEFAULT_TOKENIZER.tokenize),
                "bm25-ws": bm25_ranker(papers, ws_tokens),
            }
            quality = judged_quality(rankers, queries)
            items = known_item_queries(papers, args.known)
            known = known_item(rankers, items)
        finally:
            close()
    print_tables(quality, known, len(items))
    name = "relevance-smoke.json" if args.smoke else f"relevance-{when}.json"
    write_json(
        args.out,
        name,
        when,
        {"quality": quality, "known_item": known, "known_items": items},
        smoke=args.smoke,
        papers=len(papers),
        queries=len(queries),
        seed=SEED,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
