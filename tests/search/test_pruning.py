"""MaxScore pruning returns exactly what scoring every match returns (ids, scores, totals)."""

from __future__ import annotations

import random
from datetime import date

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from bot.search import index as index_module
from bot.search import pruning, termcache
from bot.search.index import BM25Index, prewarm
from bot.search.segments import Doc

SOURCES = ["arxiv", "hf", "listing"]


def zipf_doc(rng: random.Random, words: list[str]) -> list[str]:
    """Skewed word frequencies: a few words in most papers (floored idf), a long rare tail."""
    length = rng.randint(0, 3) if rng.random() < 0.05 else rng.randint(4, 40)
    return [words[min(int(rng.paretovariate(0.7)) - 1, len(words) - 1)] for _ in range(length)]


def make_doc(rng: random.Random, pid: int, words: list[str]) -> Doc:
    published = None if rng.random() < 0.1 else date(2024, 1, 1 + rng.randrange(28))
    return Doc(pid, zipf_doc(rng, words), published, rng.choice(SOURCES))


def random_query(rng: random.Random, words: list[str]) -> list[str]:
    n = rng.randint(1, 6)
    q = [words[min(int(rng.paretovariate(0.5)) - 1, len(words) - 1)] for _ in range(n)]
    if rng.random() < 0.3:
        q.append(rng.choice(words[50:]))  # a rare word beside common ones: prunes best
    if rng.random() < 0.1:
        q.append("unknown-word")
    return q


def random_filters(rng: random.Random) -> dict[str, object]:
    f: dict[str, object] = {}
    if rng.random() < 0.25:
        f["since"] = date(2024, 1, 1 + rng.randrange(20))
    if rng.random() < 0.25:
        f["until"] = date(2024, 1, 8 + rng.randrange(20))
    if rng.random() < 0.2:
        f["source"] = rng.choice([*SOURCES, "nowhere"])
    return f


def assert_same_as_exhaustive(
    index: BM25Index, rng: random.Random, words: list[str], n_queries: int
) -> None:
    for _ in range(n_queries):
        q = random_query(rng, words)
        k = rng.choice([1, 2, 5, 10, 20, 100])
        filters = random_filters(rng)
        index.prune = True
        total, ids, scores = index.top(q, k, **filters)  # type: ignore[arg-type]
        index.prune = False
        e_total, e_ids, e_scores = index.top(q, k, **filters)  # type: ignore[arg-type]
        index.prune = True
        assert total == e_total, (q, k, filters)
        assert ids.tolist() == e_ids.tolist(), (q, k, filters)
        np.testing.assert_allclose(scores, e_scores, rtol=1e-9, atol=0)
        assert scores.tolist() == e_scores.tolist()  # same summation order: same floats


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Counts segments ranked by MaxScore, and how many of them took the dense-sum way
    (long essential postings) rather than candidates from short postings."""
    counts = {"ranked": 0, "dense": 0}
    real_rank, real_dense = pruning._maxscore, pruning._exact_dense

    def ranked(*args: object, **kwargs: object) -> object:
        counts["ranked"] += 1
        return real_rank(*args, **kwargs)  # type: ignore[arg-type]

    def dense(*args: object, **kwargs: object) -> object:
        counts["dense"] += 1
        return real_dense(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pruning, "_maxscore", ranked)
    monkeypatch.setattr(pruning, "_exact_dense", dense)
    return counts


@pytest.mark.parametrize("min_postings", [1, 40, 1 << 40], ids=["all-cached", "some", "none"])
@pytest.mark.parametrize("seed", range(3))
def test_pruned_top_k_equals_exhaustive_through_changes(
    seed: int, min_postings: int, spy: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(index_module, "MERGE_MIN_DOCS", 400)
    monkeypatch.setattr(index_module, "MAX_SMALL_SEGMENTS", 4)
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(400)]
    index = BM25Index()
    index.term_cache.min_postings = min_postings
    docs = {pid: make_doc(rng, pid, words) for pid in range(1, 1500)}
    index.build(docs.values())
    prewarm(index)
    assert_same_as_exhaustive(index, rng, words, 150)
    next_id = 5000
    for step in range(6):
        batch = [make_doc(rng, next_id + j, words) for j in range(rng.randint(1, 60))]
        next_id += len(batch)
        # replaced papers: their old versions stay in older segments, masked dead
        batch += [make_doc(rng, pid, words) for pid in rng.sample(sorted(docs), 30)]
        removed = rng.sample(sorted(docs), 3) if step % 2 else []
        index.apply(batch, remove=removed)
        docs.update({d.paper_id: d for d in batch})
        for pid in removed:
            del docs[pid]
        if step % 2:
            prewarm(index)
        assert len(index.snapshot.segments) >= 1
        assert_same_as_exhaustive(index, rng, words, 60)
    assert 0 < spy["dense"] < spy["ranked"], "both ways of ranking a segment should run"


def test_masked_segments_and_many_segments_are_exercised(spy: dict[str, int]) -> None:
    """The randomized test above runs on indexes with dead documents and several segments."""
    rng = random.Random(7)
    words = [f"w{i}" for i in range(300)]
    index = BM25Index()
    index.build(make_doc(rng, pid, words) for pid in range(1, 3000))
    index.apply([make_doc(rng, pid, words) for pid in range(1, 200)])  # replacements
    index.apply([make_doc(rng, pid, words) for pid in range(4000, 4100)])  # added later
    segs = index.snapshot.segments
    assert len(segs) == 3 and not segs[0].alive.all()
    assert_same_as_exhaustive(index, rng, words, 300)
    assert spy["ranked"] >= 300


def test_pruned_top_matches_rank_bm25_sorted() -> None:
    """Against the reference directly: BM25Okapi's best k scores, and our ids hold them.

    (Ids are compared up to float noise: words with a floored idf share one weight, so
    papers that swap their counts tie mathematically, and BM25Okapi's float sums break such
    ties differently; pruned vs exhaustive ids are compared exactly above.)"""
    rng = random.Random(3)
    words = [f"w{i}" for i in range(200)]
    corpus = {pid: zipf_doc(rng, words) for pid in range(1, 1200)}
    index = BM25Index()
    index.build(Doc(pid, toks) for pid, toks in corpus.items())
    ids = np.array(sorted(corpus))
    position = {int(pid): i for i, pid in enumerate(ids)}
    ref = BM25Okapi([corpus[i] for i in ids])
    for _ in range(60):
        q = random_query(rng, words)
        s = ref.get_scores(q)
        best = np.sort(s[s > 0])[::-1]
        for k in (1, 10, 50):
            total, got, scores = index.top(q, k)
            assert total == len(best)
            np.testing.assert_allclose(scores, best[:k], rtol=1e-9)
            np.testing.assert_allclose(s[[position[i] for i in got.tolist()]], scores, rtol=1e-9)
            assert len(set(got.tolist())) == len(got)


def test_a_common_word_beside_a_rare_one_is_looked_up_not_scanned(spy: dict[str, int]) -> None:
    """The case pruning exists for: candidates come from the rare word's postings only."""
    docs = [
        Doc(i, ["common"] * (1 + i % 3) + (["rare"] if i % 100 == 0 else []))
        for i in range(1, 5001)
    ]
    docs += [Doc(i, ["other"]) for i in range(5001, 12001)]  # keeps "common" below half
    index = BM25Index()
    index.build(docs)
    snap = index.snapshot
    weights = index.query_weights(["common", "rare"])
    seg, norm = snap.segments[0], snap.norms[0]
    terms = pruning._terms(seg, norm, weights, snap.avgdl, index.term_cache)
    local, scores, dense = pruning._maxscore(seg, terms, 10, lambda d: None, lambda: None, 0.0)
    assert dense is None
    assert spy == {"ranked": 1, "dense": 0}  # no pass over the segment
    assert index.top(["common", "rare"], 10)[0] == 5000
    assert set(seg.paper_ids[local].tolist()) <= {i for i in range(100, 5001, 100)}
    index.prune = False
    _, e_ids, e_scores = index.top(["common", "rare"], 10)
    assert e_ids.tolist() == seg.paper_ids[local].tolist()
    assert e_scores.tolist() == scores.tolist()


@pytest.fixture
def impact_spy(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Counts segments ranked from impact lists (`_by_impact` without falling back to the
    dense sum) and the fallbacks."""
    counts = {"impact": 0, "dense": 0}
    real_impact, real_dense = pruning._by_impact, pruning._dense

    def dense(*args: object, **kwargs: object) -> object:
        counts["dense"] += 1
        return real_dense(*args, **kwargs)  # type: ignore[arg-type]

    def impact(*args: object, **kwargs: object) -> object:
        before = counts["dense"]
        out = real_impact(*args, **kwargs)  # type: ignore[arg-type]
        counts["impact"] += counts["dense"] == before
        return out

    monkeypatch.setattr(pruning, "_by_impact", impact)
    monkeypatch.setattr(pruning, "_dense", dense)
    return counts


@pytest.mark.parametrize("seed", range(3))
def test_impact_lists_rank_common_words_exactly(
    seed: int, impact_spy: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Queries of common words only, ranked from (short, so mostly incomplete) impact lists:
    the same ids, floats and totals as scoring every match, with filters, dead documents,
    later segments and the lists refreshed by prewarm after changes."""
    monkeypatch.setattr(termcache, "IMPACT_LIST", 48)  # incomplete lists, cut inside ties
    monkeypatch.setattr(pruning, "IMPACT_STEPS", (2, 4, 8, 16))
    monkeypatch.setattr(pruning, "IMPACT_SEED", 4)
    monkeypatch.setattr(pruning, "IMPACT_MAX_SHARE", 2)
    monkeypatch.setattr(index_module, "MERGE_MIN_DOCS", 400)
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(60)]  # few words: most are in many documents
    index = BM25Index()
    index.term_cache.min_postings = 30
    docs = [make_doc(rng, pid, words) for pid in range(1, 2500)]
    index.build(docs)
    if seed == 1:
        prewarm(index)
    assert_same_as_exhaustive(index, rng, words, 150)
    index.apply([make_doc(rng, pid, words) for pid in rng.sample(range(1, 2500), 200)])
    index.apply([make_doc(rng, pid, words) for pid in range(3000, 3100)])
    prewarm(index)
    assert_same_as_exhaustive(index, rng, words, 150)
    assert impact_spy["impact"] > 50 and impact_spy["dense"] > 0


def test_impact_list_holds_every_document_above_its_last_value() -> None:
    """What `_by_impact` relies on: values descending, docs the term's own, and every
    unlisted posting's contribution at most the last listed one (complete lists: none)."""
    rng = np.random.default_rng(5)
    size = 5000
    postings = np.sort(rng.choice(size, 3000, replace=False)).astype(np.int32)
    values = rng.choice([0.5, 1.0, 1.25, 2.0], size=3000) * rng.choice([1.0, 1.0, 3.0], 3000)
    dense = np.zeros(size)
    dense[postings] = values
    for vals, is_dense in ((values, False), (dense, True)):
        for limit in (5000, 100, 7):
            lst = termcache.impact_list(postings, vals, is_dense, limit)
            assert len(lst.docs) <= limit and lst.complete == (limit >= len(postings))
            assert (np.diff(lst.values) <= 0).all()
            assert set(lst.docs.tolist()) <= set(postings.tolist())
            assert lst.values.tolist() == dense[lst.docs].tolist()
            unlisted = np.setdiff1d(postings, lst.docs)
            if lst.complete:
                assert len(unlisted) == 0
            else:
                assert dense[unlisted].max() <= lst.values[-1]


def test_prewarm_keeps_the_most_frequent_columns_within_the_cache() -> None:
    """Prewarm stops at the cache's budget instead of evicting the columns it prepared
    first (the most frequent terms'), and lists impacts for long terms beyond them."""
    rng = random.Random(9)
    words = [f"w{i}" for i in range(300)]
    index = BM25Index()
    index.term_cache.min_postings = 20
    index.build(make_doc(rng, pid, words) for pid in range(1, 3000))
    index.term_cache.max_bytes = 200_000  # eight dense columns; less than the 128 terms'
    snap = index.snapshot
    seg = snap.segments[0]
    wanted = np.argsort(snap.df)[::-1][: index_module.PREWARM_TERMS]
    assert sum(index_module._column_bytes(seg, int(t)) for t in wanted) > 200_000
    prewarm(index)
    cache = index.term_cache
    top = int(np.argmax(snap.df))
    assert cache.get(seg, top, snap.avgdl, snap.idf(top)) is not None
    assert 0 < cache._bytes <= cache.max_bytes
    assert len(cache._impacts) > len(cache._entries)
