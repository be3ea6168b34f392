"""Recommendation benchmark: simulated users on the bundled corpus, and the model's cost.

    python -m benchmarks.recommend_bench                 # all topics, cost at 100k
    python -m benchmarks.recommend_bench --cost 100k,1M  # cost at 1M too (minutes, ~3 GB)
    python -m benchmarks.recommend_bench --e2e 100k      # + the API end to end over SQLite
    python -m benchmarks.recommend_bench --smoke         # CI: 3 topics, 2 trials, 5k papers

Quality. For each judged topic (benchmarks/recommend_data/topics.json: exact titles, judged
by reading title + abstract; split into dev topics, which the method and its settings were
chosen on, and held-out test topics, which were not looked at while tuning), a simulated
user saves k ∈ {1, 3, 5, 10} of the topic's papers (TRIALS random draws; k only when the
topic keeps ≥ 3 other papers). Each method ranks the rest of the library; P@5 and nDCG@10
count the topic's remaining papers. "More like this" is measured per clicked paper: every
paper of a topic in turn, the others relevant; beside the API, Lucene's stock recipe (25
terms, boost × idf) and BM25 with the clicked title as the query. Methods (recommend):

* recommend — the API (`bot.recommend.recommend`): Rocchio profile through the index;
* rocchio-30 / rocchio-120 — the same profile with fewer / more terms (rejected settings);
* rocchio-idf² — the profile's weights times idf again (Lucene MoreLikeThis-style boosts);
* rocchio+prf — pseudo-relevance feedback: the first top 3 join the saved papers at 0.5;
* mlt-union — sum of each saved paper's more-like-this scores (each scaled to its best);
* logreg — scikit-learn LogisticRegression on the same BM25 features (saved papers vs
  every other paper, as arxiv-sanity-lite trains its SVM), its strongest weights scored
  through the index (needs scikit-learn; skipped when it is not installed);
* bm25-titles — BM25 search with the saved papers' titles as the query;
* trending — most upvoted, newest (the sample has neither, so this is library order);
* random — a seeded shuffle.

Cost. Synthetic libraries (benchmarks/synth.py) indexed in memory; per profile: tokenize
the saved papers, build the vectors and the profile, score every matching paper through the
index and take the top 10 — the work of one request (median of REPEATS profiles).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from benchmarks.report import stamp, write_json
from benchmarks.search_bench import parse_size
from bot.recommend import model
from bot.recommend.model import Signal, more_like_this, recommend

if TYPE_CHECKING:
    from bot.search.index import BM25Index
    from bot.services import Services

DATA = Path(__file__).resolve().parent / "recommend_data" / "topics.json"
RESULTS = Path(__file__).resolve().parent / "results"
KS = (1, 3, 5, 10)
TRIALS = 10
MIN_LEFT = 3
REPEATS = 20

Ranker = Callable[[list[int]], list[int]]


def load_topics(path: Path = DATA) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["topics"]


def make_services(home: Path) -> Services:
    """A PaperBot with the bundled sample corpus in a fresh SQLite file."""
    from bot.config import Config
    from bot.services import Services

    cfg = Config.from_env({"PAPERBOT_HOME": str(home), "PAPERBOT_SCHEDULER": "0"})
    svc = Services.create(cfg, seed=True)
    svc.search.warm()
    return svc


def title_ids(svc: Services) -> dict[str, int]:
    from sqlalchemy import select

    from storage.models import Paper

    with svc.db.session() as s:
        return {t: i for t, i in s.execute(select(Paper.title, Paper.id))}


# ----- metrics ------------------------------------------------------------------------------


def precision_at(ranked: Sequence[int], relevant: set[int], n: int = 5) -> float:
    return sum(1 for p in ranked[:n] if p in relevant) / n


def ndcg_at(ranked: Sequence[int], relevant: set[int], n: int = 10) -> float:
    dcg = sum(1 / math.log2(i + 2) for i, p in enumerate(ranked[:n]) if p in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(n, len(relevant))))
    return dcg / ideal if ideal else 0.0


# ----- methods ------------------------------------------------------------------------------


def _ranked(index: BM25Index, query: dict[str, float], skip: set[int], n: int = 10) -> list[int]:
    ids, _ = model.best_ids(model.score_terms(index, query), n, skip, None)
    return ids.tolist()


def methods(svc: Services, all_ids: list[int], seed: int) -> dict[str, Ranker]:
    index = svc.search.index
    vecs = model.paper_vectors(svc, all_ids)
    raw: dict[int, dict[str, float]] = {}
    with svc.db.session() as s:
        from storage.papers import get_papers

        for p in get_papers(s, all_ids):
            raw[p.id] = model.term_vector(
                index, model.paper_tokens(p.title, p.abstract, svc.search.tokenizer), unit=False
            )
    titles = {pid: t for pid, (t, _) in vecs.items()}

    def api(saved: list[int]) -> list[int]:
        picks = recommend(svc, [Signal(p, 1.0) for p in saved], limit=10, recent_days=None)
        return [p.paper_id for p in picks]

    def rocchio(terms: int, idf_twice: bool = False, feedback: float = 0.0) -> Ranker:
        def run(saved: list[int]) -> list[int]:
            pos = [(1.0, vecs[p][1]) for p in saved]
            q = model.to_query(index, model.rocchio(pos, [], terms=terms))
            if idf_twice:
                q = {t: w * model._idf(index, t) for t, w in q.items()}
            if feedback:  # pseudo-relevance feedback: the first top 3 join the positives
                first = _ranked(index, q, set(saved), 3)
                more = [(feedback, vecs[p][1]) for p in first]
                q = model.to_query(index, model.rocchio(pos + more, [], terms=terms))
            return _ranked(index, q, set(saved))

        return run

    def mlt_union(saved: list[int]) -> list[int]:
        total: dict[int, float] = {}
        for p in saved:
            q = model.to_query(index, model.mlt_terms(index, _tokens(svc, p)))
            sc = model.score_terms(index, q)
            if len(sc.scores):
                top = float(sc.scores.max())
                for i, v in zip(sc.ids.tolist(), (sc.scores / top).tolist(), strict=True):
                    total[i] = total.get(i, 0.0) + v
        for p in saved:
            total.pop(p, None)
        return [i for i, _ in sorted(total.items(), key=lambda kv: (-kv[1], kv[0]))[:10]]

    def bm25_titles(saved: list[int]) -> list[int]:
        q = " ".join(titles[p] for p in saved)[:490]
        page = svc.search.search(q, limit=10 + len(saved))
        return [h.paper_id for h in page.hits if h.paper_id not in saved][:10]

    def trending(saved: list[int]) -> list[int]:
        return [p.paper_id for p in model._trending(svc, 10, set(saved), None)]

    rng = random.Random(seed)

    def rand(saved: list[int]) -> list[int]:
        pool = [p for p in all_ids if p not in saved]
        return rng.sample(pool, 10)

    out: dict[str, Ranker] = {
        "recommend": api,
        "rocchio-30": rocchio(30),
        "rocchio-120": rocchio(120),
        "rocchio-idf²": rocchio(model.PROFILE_TERMS, idf_twice=True),
        "rocchio+prf": rocchio(model.PROFILE_TERMS, feedback=0.5),
        "mlt-union": mlt_union,
    }
    lr = logreg_ranker(index, raw)
    if lr is not None:
        out["logreg"] = lr
    out.update({"bm25-titles": bm25_titles, "trending": trending, "random": rand})
    return out


def logreg_ranker(index: BM25Index, raw: dict[int, dict[str, float]]) -> Ranker | None:
    """arxiv-sanity-lite's recipe (saved = 1, every other paper = 0) with a linear model on
    the BM25 features, its weights scored through the index."""
    try:
        from sklearn.feature_extraction import DictVectorizer
        from sklearn.linear_model import LogisticRegression
    except ImportError:
        return None
    ids = sorted(raw)
    dv = DictVectorizer()
    x = dv.fit_transform([raw[i] for i in ids])
    names = dv.get_feature_names_out()
    row = {pid: r for r, pid in enumerate(ids)}

    def run(saved: list[int]) -> list[int]:
        y = np.zeros(len(ids))
        y[[row[p] for p in saved]] = 1
        clf = LogisticRegression(C=1.0, class_weight="balanced", max_iter=200)
        clf.fit(x, y)
        coef = clf.coef_[0]
        top = np.argsort(-coef)[: model.PROFILE_TERMS]
        bottom = np.argsort(coef)[: model.NEGATIVE_TERMS]
        w = {str(names[j]): float(coef[j]) for j in [*top, *bottom] if coef[j]}
        # features already carry idf: the index multiplies by saturated tf only
        return _ranked(index, w, set(saved))

    return run


def lucene_mlt(svc: Services, pid: int) -> list[int]:
    """Lucene MoreLikeThis as it ships: 25 best terms (tf-idf), boost / best, × idf by BM25."""
    index = svc.search.index
    vec = model.term_vector(index, _tokens(svc, pid), unit=False)
    top = dict(sorted(vec.items(), key=lambda kv: (-kv[1], kv[0]))[:25])
    best = max(top.values(), default=1.0)
    q = {t: w / best * model._idf(index, t) for t, w in top.items()}
    return _ranked(index, q, {pid})


def _tokens(svc: Services, pid: int) -> list[str]:
    (title, abstract) = model._texts(svc, [pid])[pid]
    return model.paper_tokens(title, abstract, svc.search.tokenizer)


# ----- quality ------------------------------------------------------------------------------


def evaluate(svc: Services, topics: list[dict], trials: int, seed: int) -> dict:
    ids_by_title = title_ids(svc)
    all_ids = sorted(ids_by_title.values())
    ranks = methods(svc, all_ids, seed)
    res: dict = {}
    for split in ("dev", "test"):
        chosen = [t for t in topics if t["split"] == split]
        if not chosen:
            continue
        cells: dict[str, dict[int, list[tuple[float, float]]]] = {m: {} for m in ranks}
        mlt: list[tuple[float, float]] = []
        mlt_lucene: list[tuple[float, float]] = []
        mlt_title: list[tuple[float, float]] = []
        hides: dict[str, list[tuple[float, float]]] = {"excluded": [], "hidden": []}
        for t in chosen:
            members = [ids_by_title[x] for x in t["titles"]]
            rng = random.Random(f"{seed}:{t['name']}")
            for k in KS:
                if len(members) - k < MIN_LEFT:
                    continue
                for _ in range(trials):
                    saved = rng.sample(members, k)
                    rel = set(members) - set(saved)
                    for name, rank in ranks.items():
                        r = rank(saved)
                        cells[name].setdefault(k, []).append(
                            (precision_at(r, rel), ndcg_at(r, rel))
                        )
                    if k == 3:
                        hide_misses(svc, saved, rel, hides)
            for clicked in members:
                rel = set(members) - {clicked}
                r = [p.paper_id for p in more_like_this(svc, clicked, limit=10)]
                mlt.append((precision_at(r, rel), ndcg_at(r, rel)))
                r = lucene_mlt(svc, clicked)
                mlt_lucene.append((precision_at(r, rel), ndcg_at(r, rel)))
                r = ranks["bm25-titles"]([clicked])
                mlt_title.append((precision_at(r, rel), ndcg_at(r, rel)))
        res[split] = {
            "topics": [t["name"] for t in chosen],
            "hide_other_topic": hide_other_topic(
                svc, chosen, ids_by_title, max(1, trials // 2), seed
            ),
            "methods": {
                m: {
                    str(k): {
                        "p5": statistics.fmean(a for a, _ in v),
                        "ndcg10": statistics.fmean(b for _, b in v),
                        "n": len(v),
                    }
                    for k, v in sorted(by_k.items())
                }
                for m, by_k in cells.items()
            },
            "hides": {
                name: {
                    "p5": statistics.fmean(a for a, _ in got),
                    "ndcg10": statistics.fmean(b for _, b in got),
                    "n": len(got),
                }
                for name, got in hides.items()
                if got
            },
            "more_like_this": {
                name: {
                    "p5": statistics.fmean(a for a, _ in got),
                    "ndcg10": statistics.fmean(b for _, b in got),
                    "n": len(got),
                }
                for name, got in (
                    ("more_like_this", mlt),
                    ("lucene-mlt", mlt_lucene),
                    ("bm25-title", mlt_title),
                )
            },
        }
    return res


def hide_misses(svc: Services, saved: list[int], rel: set[int], out: dict[str, list]) -> None:
    """The user hides the off-topic papers of their first five and asks again. Both answers
    leave the hidden papers out; only "hidden" also learns from them (−1 signals), so the
    difference is what negatives add."""
    signals = [Signal(p, 1.0) for p in saved]
    first = [p.paper_id for p in recommend(svc, signals, limit=5, recent_days=None)]
    misses = [p for p in first if p not in rel]
    if not misses:
        return
    for name, sigs in (
        ("excluded", signals),
        ("hidden", signals + [Signal(m, -1.0) for m in misses]),
    ):
        got = recommend(svc, sigs, limit=10, recent_days=None, exclude=misses)
        r = [p.paper_id for p in got]
        out[name].append((precision_at(r, rel), ndcg_at(r, rel)))
    for gamma in (0.25, 0.75):  # rejected: harder pushes
        vecs = model.paper_vectors(svc, [*saved, *misses])
        q = model.rocchio(
            [(1.0, vecs[p][1]) for p in saved], [(1.0, vecs[p][1]) for p in misses], gamma=gamma
        )
        r = _ranked(svc.search.index, model.to_query(svc.search.index, q), {*saved, *misses})
        out.setdefault(f"hidden, gamma {gamma}", []).append((precision_at(r, rel), ndcg_at(r, rel)))


def hide_other_topic(
    svc, topics: list[dict], ids_by_title: dict[str, int], trials: int, seed: int
) -> dict:
    """Save 3 papers of topic A, hide 2 of topic B (each ordered pair of the split's topics):
    A's P@5 and how many of B's other papers still reach the top 10, by Rocchio's gamma
    (0 = hides only left out; NEGATIVE_WEIGHT is the API's)."""
    index = svc.search.index
    gammas = sorted({0.0, model.NEGATIVE_WEIGHT, 0.25, 0.75})
    got: dict[float, list[tuple[float, int]]] = {g: [] for g in gammas}
    for a in topics:
        for b in topics:
            if a is b:
                continue
            mem_a = [ids_by_title[x] for x in a["titles"]]
            mem_b = [ids_by_title[x] for x in b["titles"] if ids_by_title[x] not in set(mem_a)]
            rng = random.Random(f"{seed}:{a['name']}:{b['name']}")
            for _ in range(trials):
                saved, hidden = rng.sample(mem_a, 3), rng.sample(mem_b, 2)
                rel, other = set(mem_a) - set(saved), set(mem_b) - set(hidden)
                vecs = model.paper_vectors(svc, [*saved, *hidden])
                pos = [(1.0, vecs[p][1]) for p in saved]
                neg = [(1.0, vecs[p][1]) for p in hidden]
                for g in gammas:
                    q = model.to_query(index, model.rocchio(pos, neg if g else [], gamma=g))
                    r = _ranked(index, q, {*saved, *hidden})
                    got[g].append((precision_at(r, rel), sum(p in other for p in r)))
    return {
        str(g): {
            "p5": statistics.fmean(a for a, _ in v),
            "other_topic_in_top10": statistics.fmean(b for _, b in v),
            "n": len(v),
        }
        for g, v in got.items()
        if v
    }


def print_quality(res: dict) -> None:
    for split, r in res.items():
        label = "dev topics (tuned on)" if split == "dev" else "held-out test topics"
        print(f"\n{label}: {', '.join(r['topics'])}")
        print("| method | " + " | ".join(f"k={k} P@5 | nDCG@10" for k in KS) + " |")
        print("|---|" + "---|---|" * len(KS))
        for m, by_k in r["methods"].items():
            cells = []
            for k in KS:
                c = by_k.get(str(k))
                cells.append(f"{c['p5']:.2f} | {c['ndcg10']:.2f}" if c else "– | –")
            print(f"| {m} | " + " | ".join(cells) + " |")
        for name, c in r.get("hides", {}).items():
            print(
                f"k=3, off-topic picks of the first 5 {name} (n={c['n']}): "
                f"P@5 {c['p5']:.2f}, nDCG@10 {c['ndcg10']:.2f}"
            )
        for g, c in r["hide_other_topic"].items():
            print(
                f"save 3 of A, hide 2 of B, gamma {g} (n={c['n']}): A's P@5 {c['p5']:.2f}, "
                f"B's other papers in the top 10: {c['other_topic_in_top10']:.2f}"
            )
        for name, c in r["more_like_this"].items():
            print(
                f"{name} (each topic paper clicked, n={c['n']}): "
                f"P@5 {c['p5']:.2f}, nDCG@10 {c['ndcg10']:.2f}"
            )


# ----- cost ---------------------------------------------------------------------------------


def cost(n: int, seed: int = 0) -> dict:
    """Train + score one profile over n synthetic papers (in-memory index, no database)."""
    from benchmarks.synth import generate
    from bot.search.documents import paper_tokens
    from bot.search.index import BM25Index
    from bot.search.segments import Doc
    from bot.search.tokenizer import DEFAULT_TOKENIZER as tok

    papers = generate(n, seed)
    t0 = time.perf_counter()
    index = BM25Index()
    index.build(
        Doc(i + 1, paper_tokens(p.title, p.abstract, tok), p.published, p.source)
        for i, p in enumerate(papers)
    )
    build_s = time.perf_counter() - t0
    rng = random.Random(seed)
    per_k: dict[str, dict[str, float]] = {}
    for k in (3, 10):
        times, mlt_times, matched = [], [], []
        for _ in range(REPEATS):
            saved = rng.sample(range(n), k)
            hidden = rng.sample(range(n), 2)
            t = time.perf_counter()
            pos = [
                (
                    1.0,
                    model.term_vector(
                        index, paper_tokens(papers[i].title, papers[i].abstract, tok)
                    ),
                )
                for i in saved
            ]
            neg = [
                (
                    1.0,
                    model.term_vector(
                        index, paper_tokens(papers[i].title, papers[i].abstract, tok)
                    ),
                )
                for i in hidden
            ]
            q = model.to_query(index, model.rocchio(pos, neg))
            sc = model.score_terms(index, q)
            model.best_ids(sc, 10, {i + 1 for i in saved + hidden}, None)
            times.append(time.perf_counter() - t)
            matched.append(len(sc.ids))
            t = time.perf_counter()
            p = papers[saved[0]]
            mq = model.to_query(
                index, model.mlt_terms(index, paper_tokens(p.title, p.abstract, tok))
            )
            model.best_ids(model.score_terms(index, mq), 10, {saved[0] + 1}, None)
            mlt_times.append(time.perf_counter() - t)
        per_k[str(k)] = {
            "profile_p50_ms": 1000 * statistics.median(times),
            "profile_max_ms": 1000 * max(times),
            "mlt_p50_ms": 1000 * statistics.median(mlt_times),
            "matched_median": statistics.median(matched),
        }
    return {"papers": n, "index_build_s": build_s, "per_k": per_k}


def end_to_end(n: int, workdir: Path, seed: int = 0) -> dict:
    """The API as Slack calls it, over n synthetic papers stored in SQLite: recommend() with
    3 saves and a hide (a new profile each time: nothing cached), then more_like_this()."""
    from benchmarks.search_bench import import_papers
    from benchmarks.synth import generate
    from bot.config import Config
    from bot.services import Services

    home = workdir / f"e2e-{n}"
    cfg = Config.from_env({"PAPERBOT_HOME": str(home), "PAPERBOT_SCHEDULER": "0"})
    svc = Services.create(cfg, seed=False)
    try:
        import_papers(svc.db, generate(n, seed))
        svc.search.warm()
        ids = svc.search.index.paper_ids().tolist()
        rng = random.Random(seed)
        rec, mlt = [], []
        for _ in range(REPEATS):
            picked = rng.sample(ids, 4)
            signals = [Signal(p, 1.0) for p in picked[:3]] + [Signal(picked[3], -1.0)]
            t = time.perf_counter()
            got = recommend(svc, signals, limit=5)
            rec.append(time.perf_counter() - t)
            assert len(got) == 5 and all(p.why for p in got)
            t = time.perf_counter()
            more_like_this(svc, picked[0], limit=5)
            mlt.append(time.perf_counter() - t)
        cold = []
        for _ in range(REPEATS):
            t = time.perf_counter()
            got = recommend(svc, [], limit=5, fallback_topic=None)  # trending: a sort in SQL
            cold.append(time.perf_counter() - t)
            assert len(got) == 5
        return {
            "papers": n,
            "cold_start_trending_p50_ms": 1000 * statistics.median(cold),
            "recommend_p50_ms": 1000 * statistics.median(rec),
            "recommend_max_ms": 1000 * max(rec),
            "more_like_this_p50_ms": 1000 * statistics.median(mlt),
        }
    finally:
        svc.close()


def print_cost(rows: list[dict]) -> None:
    print(
        "\n| papers | saved k | profile train+score p50 ms | max ms | matched papers | MLT p50 ms |"
    )
    print("|---|---|---|---|---|---|")
    for r in rows:
        for k, c in r["per_k"].items():
            print(
                f"| {r['papers']:,} | {k} (+2 hidden) | {c['profile_p50_ms']:.1f} | "
                f"{c['profile_max_ms']:.1f} | {int(c['matched_median']):,} | "
                f"{c['mlt_p50_ms']:.1f} |"
            )


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="3 topics, 2 trials, cost at 5k (CI)")
    ap.add_argument("--cost", default="100k", help="comma-separated library sizes, '' for none")
    ap.add_argument("--e2e", default="", help="sizes for the end-to-end API timing, e.g. 100k")
    ap.add_argument("--trials", type=int, default=TRIALS)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--workdir", type=Path)
    args = ap.parse_args(argv)
    topics = load_topics()
    trials = args.trials
    sizes = [parse_size(s) for s in args.cost.split(",") if s.strip()]
    if args.smoke:
        dev = [t for t in topics if t["split"] == "dev"][:2]
        test = [t for t in topics if t["split"] == "test"][:1]
        topics, trials, sizes = dev + test, 2, [5_000]
    when = stamp()
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        svc = make_services(Path(tmp) / "home")
        try:
            quality = evaluate(svc, topics, trials, args.seed)
        finally:
            svc.close()
    print_quality(quality)
    costs = [cost(n) for n in sizes]
    if costs:
        print_cost(costs)
    e2e = []
    if args.e2e:
        with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
            for n in (parse_size(x) for x in args.e2e.split(",") if x.strip()):
                e2e.append(end_to_end(n, Path(tmp)))
                r = e2e[-1]
                print(
                    f"end to end at {r['papers']:,} papers (SQLite): recommend() p50 "
                    f"{r['recommend_p50_ms']:.1f} ms (max {r['recommend_max_ms']:.1f}), "
                    f"more_like_this() p50 {r['more_like_this_p50_ms']:.1f} ms, "
                    f"cold start (trending) p50 {r['cold_start_trending_p50_ms']:.1f} ms"
                )
    name = "recommend-smoke.json" if args.smoke else f"recommend-{when}.json"
    write_json(
        args.out,
        name,
        when,
        {"quality": quality, "cost": costs, "end_to_end": e2e},
        trials=trials,
        seed=args.seed,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
