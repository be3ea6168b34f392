"""Search benchmark: our engine beside rank-bm25, bm25s and SQLite FTS5 on the same papers.

    python -m benchmarks.search_bench --sizes 10k,100k      # by hand
    python -m benchmarks.search_bench --smoke               # CI: 2k papers, well under a minute

Per size: synthetic papers (benchmarks/synth.py) are imported through the real path
(storage.papers.upsert_papers into a SQLite file); every system then indexes the papers as
read back from that database, with our tokenizer's token lists where a system takes tokens.
Our engine's build and restart run in child processes, so their time and peak RSS are
ours alone. Query latency is per query, one at a time: tokenize + score + top 10.
rank-bm25 is measured up to 100k papers; above that it is measured on a 50k prefix and
scaled linearly (its get_scores is linear in N) and marked as extrapolated.
Results: a table on stdout and JSON in benchmarks/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from benchmarks.report import stamp, write_json
from benchmarks.synth import generate, query_set
from bot.search.engine import TITLE_WEIGHT, QueryError, paper_tokens, query_tokens

if TYPE_CHECKING:
    from benchmarks.synth import SynthPaper
    from storage.db import Database

RESULTS = Path(__file__).resolve().parent / "results"
RANK_BM25_MAX = 100_000
RANK_BM25_PREFIX = 50_000
IMPORT_CHUNK = 5_000
PEERS = ("bm25s", "fts5")


def import_papers(db: Database, papers: Sequence[SynthPaper]) -> None:
    """Store synthetic papers through the real ingest path, one transaction per chunk."""
    from storage.papers import PaperRecord, upsert_papers

    for start in range(0, len(papers), IMPORT_CHUNK):
        recs = [
            PaperRecord(title=p.title, abstract=p.abstract, source=p.source, published=p.published)
            for p in papers[start : start + IMPORT_CHUNK]
        ]
        with db.session() as session:
            upsert_papers(session, recs)


def parse_size(s: str) -> int:
    s = s.strip().lower()
    mult = {"k": 1_000, "m": 1_000_000}.get(s[-1:], 1)
    return int(float(s[:-1] if s[-1:] in "km" else s) * mult)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def latencies(fn: Callable[[str], object], queries: Sequence[str], warmup: int = 5) -> dict:
    for q in queries[:warmup]:
        fn(q)
    out = []
    for q in queries:
        t = time.perf_counter()
        fn(q)
        out.append((time.perf_counter() - t) * 1000)
    return {
        "queries": len(out),
        "p50_ms": float(np.percentile(out, 50)),
        "p95_ms": float(np.percentile(out, 95)),
        "mean_ms": statistics.fmean(out),
    }


def usable_queries(n: int) -> list[str]:
    out = []
    for q in query_set(n * 2):
        try:
            query_tokens(q)
        except QueryError:
            continue
        out.append(q)
    return out[:n]


# ----- our engine, in child processes ---------------------------------------------------


def child(mode: str, db_url: str, index_dir: str, n_queries: int) -> dict:
    """Runs in a fresh interpreter: 'build' (cold build + save) or 'serve' (restart + queries)."""
    from bot.search import SearchEngine
    from storage.db import Database

    db = Database(db_url)
    engine = SearchEngine(db, Path(index_dir))
    out: dict = {}
    t = time.perf_counter()
    engine.warm()
    out["warm_s"] = time.perf_counter() - t
    if mode == "build":
        t = time.perf_counter()
        engine.save()
        out["save_s"] = time.perf_counter() - t
        out["build_s"] = out["warm_s"] - out["save_s"]  # warm = read DB + tokenize + build + save
        manifest = json.loads((Path(index_dir) / "manifest.json").read_text())
        out["index_mb"] = manifest["size"] / 1e6
    else:
        import psutil

        out["rss_after_load_mb"] = psutil.Process().memory_info().rss / 2**20
        queries = usable_queries(n_queries)
        out.update(latencies(lambda q: engine.search(q, limit=10), queries))
        out["top"] = {
            q: [(h.paper_id, h.score) for h in engine.search(q, limit=10).hits] for q in queries[:5]
        }
        out["size"] = engine.size
        # the same queries scoring every match (no pruning), and whether the pages agree
        index = engine._index
        assert index is not None
        pruned = {q: engine.search(q, limit=10) for q in queries}
        index.prune = False
        exhaustive = latencies(lambda q: engine.search(q, limit=10), queries)
        out["exhaustive_p50_ms"], out["exhaustive_p95_ms"] = (
            exhaustive["p50_ms"],
            exhaustive["p95_ms"],
        )
        out["pruned_vs_exhaustive_mismatches"] = sum(
            pruned[q].hits != (page := engine.search(q, limit=10)).hits
            or pruned[q].total != page.total
            for q in queries
        )
        index.prune = True
        # the same queries with the term cache off: every query computes every contribution
        engine._index.term_cache.min_postings = 1 << 62  # type: ignore[union-attr]
        uncached = latencies(lambda q: engine.search(q, limit=10), queries)
        out["uncached_p50_ms"], out["uncached_p95_ms"] = uncached["p50_ms"], uncached["p95_ms"]
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def run_child(mode: str, db_url: str, index_dir: Path, n_queries: int) -> dict:
    root = Path(__file__).resolve().parents[1]
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.search_bench",
        "--child",
        mode,
        db_url,
        str(index_dir),
        str(n_queries),
    ]
    env = {**os.environ, "PYTHONPATH": str(root)}
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=root, env=env, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"child {mode} failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


# ----- peers ----------------------------------------------------------------------------


def bench_rank_bm25(tokens: list[list[str]], queries: list[str], ids: np.ndarray) -> dict:
    from rank_bm25 import BM25Okapi

    n = len(tokens)
    scale = 1.0
    if n > RANK_BM25_MAX:
        scale, tokens = n / RANK_BM25_PREFIX, tokens[:RANK_BM25_PREFIX]
    t = time.perf_counter()
    bm = BM25Okapi(tokens)
    build = time.perf_counter() - t

    def search(q: str) -> np.ndarray:
        s = bm.get_scores(query_tokens(q))
        top = np.argpartition(-s, 10)[:10]
        return top[np.argsort(-s[top])]

    lat = latencies(search, queries[: max(5, min(len(queries), 20 if n > 20_000 else 50))], 2)
    out = {
        "build_s": build * scale,
        **{k: v * scale if k.endswith("_ms") else v for k, v in lat.items()},
    }
    out["extrapolated_from"] = len(tokens) if scale != 1.0 else None
    out["model"] = bm
    return out


def bench_bm25s(tokens: list[list[str]], queries: list[str]) -> dict:
    import bm25s

    t = time.perf_counter()
    r = bm25s.BM25(k1=1.5, b=0.75, method="robertson")
    r.index(tokens, show_progress=False)
    build = time.perf_counter() - t
    vocab = r.vocab_dict

    def search(q: str) -> object:
        toks = [t for t in query_tokens(q) if t in vocab]
        if not toks:
            return None
        return r.retrieve([toks], k=10, show_progress=False, n_threads=1)

    return {"build_s": build, **latencies(search, queries), "model": r}


def bm25s_vs_okapi(r: object, bm: object, queries: list[str]) -> dict:
    """Can bm25s reproduce BM25Okapi? Compare (k1 + 1) * bm25s robertson to rank-bm25."""
    worst_pos = worst_neg = 0.0
    for q in queries:
        toks = query_tokens(q)
        ref = bm.get_scores(toks)  # type: ignore[attr-defined]
        n = len(ref)
        vocab = r.vocab_dict  # type: ignore[attr-defined]
        known = [t for t in toks if t in vocab]
        ours = (
            np.asarray(r.get_scores(known), dtype=np.float64)[:n] * 2.5  # type: ignore[attr-defined]
            if known
            else np.zeros(n)
        )
        rel = float(np.max(np.abs(ours - ref) / np.maximum(np.abs(ref), 1e-12)))
        negative = any(
            bm.idf.get(t, 1.0) < 0  # type: ignore[attr-defined]
            or bm.idf.get(t) == bm.epsilon * bm.average_idf  # type: ignore[attr-defined]
            for t in toks
        )
        if negative:
            worst_neg = max(worst_neg, rel)
        else:
            worst_pos = max(worst_pos, rel)
    return {"max_rel_err_plain_queries": worst_pos, "max_rel_err_with_floored_idf": worst_neg}


def bench_fts5(rows: list, queries: list[str], workdir: Path) -> dict:
    path = workdir / "fts.db"
    path.unlink(missing_ok=True)
    con = sqlite3.connect(path)
    t = time.perf_counter()
    con.execute("CREATE VIRTUAL TABLE fts USING fts5(title, abstract, tokenize='porter unicode61')")
    with con:
        con.executemany(
            "INSERT INTO fts(rowid, title, abstract) VALUES (?, ?, ?)",
            ((r.id, r.title, r.abstract) for r in rows),
        )
    build = time.perf_counter() - t
    sql = (
        f"SELECT rowid, bm25(fts, {TITLE_WEIGHT}.0, 1.0) AS s FROM fts WHERE fts MATCH ? "
        "ORDER BY s LIMIT 10"
    )

    def search(q: str) -> list:
        words = re.findall(r"\w+", q.lower())
        return con.execute(sql, (" OR ".join(f'"{w}"' for w in words),)).fetchall()

    out = {"build_s": build, **latencies(search, queries[: min(len(queries), 100)])}
    con.close()
    return out


# ----- one size -------------------------------------------------------------------------


def bench_size(
    n: int,
    n_queries: int,
    workdir: Path,
    log: Callable[[str], None],
    reuse: bool = False,
    peers: Sequence[str] = PEERS,
) -> dict:
    """One size. `reuse`: keep a database and saved index left in `workdir` by an earlier
    run of the same size (no generate/import/build; for repeated latency runs). `peers`:
    which of bm25s and fts5 to measure beside rank-bm25 (always measured)."""
    from storage.db import Database
    from storage.papers import count_papers, iter_index_rows

    res: dict = {"papers_generated": n}
    db_path = workdir / f"papers-{n}.db"
    url = f"sqlite:///{db_path}"
    index_dir = workdir / f"index-{n}"
    reused = reuse and db_path.exists() and (index_dir / "manifest.json").exists()
    db = Database(url)
    if reused:
        res["import_s"] = res["generate_s"] = None
        log(f"[{n:,}] reusing {db_path} and {index_dir}")
    else:
        t = time.perf_counter()
        papers = generate(n)
        res["generate_s"] = time.perf_counter() - t
        db.dispose()
        db_path.unlink(missing_ok=True)
        db = Database(url)
        db.migrate()
        log(f"[{n:,}] generated in {res['generate_s']:.1f}s; importing via upsert_papers")
        t = time.perf_counter()
        import_papers(db, papers)
        res["import_s"] = time.perf_counter() - t
        del papers
    with db.session() as session:
        res["papers"] = count_papers(session)
        rows = list(iter_index_rows(session))
    db.dispose()
    if not reused:
        res["import_papers_per_s"] = res["papers"] / res["import_s"]
        log(f"[{n:,}] imported {res['papers']:,} papers in {res['import_s']:.1f}s; building ours")
        for f in index_dir.glob("*"):
            f.unlink()
        built = run_child("build", url, index_dir, n_queries)
    else:
        built = dict.fromkeys(("build_s", "save_s", "peak_rss_mb", "index_mb"))
    served = run_child("serve", url, index_dir, n_queries)
    top = served.pop("top")
    res["ours"] = {
        **served,
        "build_s": built["build_s"],
        "save_s": built["save_s"],
        "build_peak_rss_mb": built["peak_rss_mb"],
        "index_file_mb": built["index_mb"],
        "restart_s": served["warm_s"],
    }
    log(
        f"[{n:,}] ours: build {_num(built['build_s'], '.1f')}s, restart {served['warm_s']:.2f}s, "
        f"p50 {served['p50_ms']:.2f}ms p95 {served['p95_ms']:.2f}ms"
    )

    queries = usable_queries(n_queries)
    ids = np.array([r.id for r in rows], dtype=np.int64)
    t = time.perf_counter()
    tokens = [paper_tokens(r.title, r.abstract) for r in rows]
    res["tokenize_corpus_s"] = time.perf_counter() - t

    rb = bench_rank_bm25(tokens, queries, ids)
    okapi = rb.pop("model")
    res["rank_bm25"] = rb
    if rb["extrapolated_from"] is None:  # exactness of our served top 10 against rank-bm25
        pos = {int(pid): i for i, pid in enumerate(ids)}
        worst = 0.0
        for q, hits in top.items():
            ref = okapi.get_scores(query_tokens(q))
            for pid, score in hits:
                worst = max(worst, abs(score - ref[pos[pid]]) / abs(ref[pos[pid]]))
        res["ours"]["max_rel_err_vs_rank_bm25_top10"] = worst
    log(
        f"[{n:,}] rank-bm25: p50 {rb['p50_ms']:.1f}ms"
        + (" (extrapolated)" if rb["extrapolated_from"] else "")
    )

    if "bm25s" in peers:
        bs = bench_bm25s(tokens, queries)
        bm25s_model = bs.pop("model")
        res["bm25s"] = bs
        if rb["extrapolated_from"] is None:
            res["bm25s"]["exactness"] = bm25s_vs_okapi(bm25s_model, okapi, queries[:20])
        del bm25s_model
        log(f"[{n:,}] bm25s: p50 {bs['p50_ms']:.2f}ms")
    del okapi, tokens
    if "fts5" in peers:
        res["fts5"] = bench_fts5(rows, queries, workdir)
        log(f"[{n:,}] fts5: p50 {res['fts5']['p50_ms']:.2f}ms")
    for peer in ("rank_bm25", *(p for p in ("bm25s", "fts5") if p in peers)):
        res[f"ratio_vs_{peer}"] = {
            "p50": res["ours"]["p50_ms"] / res[peer]["p50_ms"],
            "p95": res["ours"]["p95_ms"] / res[peer]["p95_ms"],
        }
    return res


def _num(x: float | None, fmt: str) -> str:
    """A figure, or '-' for one a reused run did not measure."""
    return "-" if x is None else format(x, fmt)


def table(results: dict) -> str:
    lines = []
    for size, r in results.items():
        o = r["ours"]
        if r["import_s"] is None:
            lines.append(f"\n== {int(size):,} papers ({r['papers']:,}, reused database) ==")
        else:
            lines.append(
                f"\n== {int(size):,} papers (imported {r['papers']:,} in {r['import_s']:.1f}s = "
                f"{r['import_papers_per_s']:,.0f}/s via upsert_papers) =="
            )
        lines.append(
            f"{'system':<12}{'build s':>10}{'p50 ms':>10}{'p95 ms':>10}"
            f"{'ours/peer p50':>15}{'p95':>8}"
        )
        lines.append(
            f"{'ours':<12}{_num(o['build_s'], '.1f'):>10}{o['p50_ms']:>10.2f}{o['p95_ms']:>10.2f}"
        )
        for peer, label in (("rank_bm25", "rank-bm25"), ("bm25s", "bm25s"), ("fts5", "fts5")):
            if peer not in r:
                continue
            p = r[peer]
            mark = "*" if p.get("extrapolated_from") else ""
            ratio = r[f"ratio_vs_{peer}"]
            lines.append(
                f"{label + mark:<12}{p['build_s']:>10.1f}{p['p50_ms']:>10.2f}{p['p95_ms']:>10.2f}"
                f"{ratio['p50']:>15.3f}{ratio['p95']:>8.3f}"
            )
        lines.append(
            f"ours: restart {o['restart_s']:.2f}s (load + verify + catch up), "
            f"save {_num(o['save_s'], '.1f')}s, index file {_num(o['index_file_mb'], '.0f')} MB, "
            f"build peak RSS {_num(o['build_peak_rss_mb'], '.0f')} MB, "
            f"serving RSS {o['rss_after_load_mb']:.0f} MB (peak {o['peak_rss_mb']:.0f} MB)"
        )
        lines.append(
            f"ours without the term cache: p50 {o['uncached_p50_ms']:.2f} ms, "
            f"p95 {o['uncached_p95_ms']:.2f} ms"
        )
        if "exhaustive_p50_ms" in o:
            lines.append(
                f"ours scoring every match (no pruning), same process after the pruned run: "
                f"p50 {o['exhaustive_p50_ms']:.2f} ms, p95 {o['exhaustive_p95_ms']:.2f} ms; "
                f"pages differing from the pruned ones: "
                f"{o['pruned_vs_exhaustive_mismatches']} of {o['queries']}"
            )
        if "max_rel_err_vs_rank_bm25_top10" in o:
            lines.append(
                f"ours vs BM25Okapi (top-10 scores): max rel err "
                f"{o['max_rel_err_vs_rank_bm25_top10']:.1e}"
            )
        if "exactness" in r.get("bm25s", {}):
            e = r["bm25s"]["exactness"]
            lines.append(
                "bm25s(robertson)*(k1+1) vs BM25Okapi: max rel err "
                f"{e['max_rel_err_plain_queries']:.1e} (positive idfs), "
                f"{e['max_rel_err_with_floored_idf']:.1e} (queries with a floored idf)"
            )
        if r["rank_bm25"].get("extrapolated_from"):
            lines.append(
                f"* rank-bm25 measured on {r['rank_bm25']['extrapolated_from']:,} papers, "
                "scaled linearly to this size"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", default="10k,100k", help="comma-separated, e.g. 10k,100k,1M")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--smoke", action="store_true", help="2k papers, 50 queries (CI)")
    ap.add_argument("--workdir", type=Path, help="keep databases and indexes here")
    ap.add_argument(
        "--reuse",
        action="store_true",
        help="with --workdir: reuse its database and saved index (latency runs only)",
    )
    ap.add_argument(
        "--peers",
        default=",".join(PEERS),
        help="which of bm25s,fts5 to measure beside rank-bm25 (default both; '' for none)",
    )
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        mode, url, index_dir, nq = args.child
        print(json.dumps(child(mode, url, index_dir, int(nq))))
        return 0
    sizes = [2_000] if args.smoke else [parse_size(s) for s in args.sizes.split(",")]
    n_queries = 50 if args.smoke else args.queries

    def log(msg: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)

    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="search-bench-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        for n in sizes:
            results[str(n)] = bench_size(
                n, n_queries, workdir, log, reuse=args.reuse, peers=args.peers.split(",")
            )
    print(table(results))
    when = stamp()
    name = "smoke.json" if args.smoke else f"search_bench-{'_'.join(map(str, sizes))}-{when}.json"
    write_json(args.out, name, when, {"results": results}, queries=n_queries)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
