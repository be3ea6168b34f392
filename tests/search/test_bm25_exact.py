"""Our scores equal rank_bm25.BM25Okapi's on the same token lists, through every kind of change."""

from __future__ import annotations

import random
from datetime import date

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from bot.search import index as index_module
from bot.search import segments
from bot.search.index import BM25Index, prewarm
from bot.search.scoring import top_k
from bot.search.segments import Doc

REL_TOL = 1e-9


def random_corpus(rng: random.Random, n: int, vocab: int = 40) -> list[list[str]]:
    """Skewed word frequencies: the first few words sit in most docs (negative idf)."""
    words = [f"w{i}" for i in range(vocab)]
    docs = []
    for _ in range(n):
        length = rng.choice([0, 1, 3]) if rng.random() < 0.1 else rng.randint(2, 25)
        docs.append([words[min(int(rng.paretovariate(0.8)) - 1, vocab - 1)] for _ in range(length)])
    return docs


def queries(rng: random.Random) -> list[list[str]]:
    return [
        ["w0"],  # in most docs: negative idf, floored to epsilon * average_idf
        ["w0", "w1", "w1", "w0", "w1"],  # repeats count
        ["w3", "nope", "w17"],  # unknown term adds nothing
        ["nope"],
        [f"w{rng.randrange(40)}" for _ in range(6)],
        [f"w{rng.randrange(40)}" for _ in range(2)],
    ]


def assert_exact(index: BM25Index, corpus: dict[int, list[str]], qs: list[list[str]]) -> None:
    ids = sorted(corpus)
    ref = BM25Okapi([corpus[i] for i in ids])
    assert len(index) == len(ids)
    assert index.paper_ids().tolist() == ids
    negative = [t for t, n in _df(corpus).items() if n > len(ids) / 2]
    assert negative, "the corpus should exercise the negative-idf floor"
    for q in qs:
        expected = ref.get_scores(q)
        got_map = index.scores(q)
        got = np.array([got_map[i] for i in ids])
        np.testing.assert_allclose(got, expected, rtol=REL_TOL, atol=1e-12)
        # the candidate path (what search uses) agrees too, and keeps exactly the positives
        cands = index.match(q)
        pos = {i for i, s in zip(ids, expected, strict=True) if s > 0}
        assert set(cands.paper_ids.tolist()) == pos
        for pid, s in zip(cands.paper_ids.tolist(), cands.scores.tolist(), strict=True):
            assert s == pytest.approx(got_map[pid], rel=REL_TOL)


def _df(corpus: dict[int, list[str]]) -> dict[str, int]:
    df: dict[str, int] = {}
    for toks in corpus.values():
        for t in set(toks):
            df[t] = df.get(t, 0) + 1
    return df


@pytest.mark.parametrize("seed", range(5))
def test_build_matches_rank_bm25(seed: int) -> None:
    rng = random.Random(seed)
    corpus = dict(enumerate(random_corpus(rng, rng.randint(20, 300)), start=1))
    index = BM25Index()
    index.build(Doc(i, t) for i, t in corpus.items())
    assert_exact(index, corpus, queries(rng))


@pytest.mark.parametrize("cached", [False, True], ids=["uncached", "term-cache"])
@pytest.mark.parametrize("seed", range(4))
def test_incremental_adds_replacements_and_merges_stay_exact(
    seed: int, cached: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(index_module, "MERGE_MIN_DOCS", 30)  # exercise both merge paths
    monkeypatch.setattr(index_module, "MAX_SMALL_SEGMENTS", 3)
    rng = random.Random(100 + seed)
    corpus = dict(enumerate(random_corpus(rng, 150), start=1))
    index = BM25Index()
    if cached:  # cache every term (dense ones too) so stale entries would show up
        index.term_cache.min_postings = 1
    index.build(Doc(i, t) for i, t in corpus.items())
    if cached:
        prewarm(index)
    next_id = 1000
    for step in range(12):
        batch: dict[int, list[str]] = {}
        for toks in random_corpus(rng, rng.randint(1, 15)):  # new papers
            batch[next_id] = toks
            next_id += 1
        for pid in rng.sample(sorted(corpus), 4):  # changed papers replace old versions
            batch[pid] = random_corpus(rng, 1)[0] + [f"new{step}"]
        removed = rng.sample(sorted(set(corpus) - set(batch)), 1) if step % 3 == 0 else []
        index.apply([Doc(i, t) for i, t in batch.items()], remove=removed)
        corpus.update(batch)
        for pid in removed:
            del corpus[pid]
        assert_exact(index, corpus, [*queries(rng), [f"new{step}", "w0"]])
        assert_exact(index, corpus, [*queries(rng), [f"new{step}", "w0"]])  # cache hits
    index.merge()
    assert len(index.snapshot.segments) == 1
    assert_exact(index, corpus, queries(rng))


def test_apply_to_empty_index_and_same_paper_twice_in_a_batch() -> None:
    index = BM25Index()
    index.apply([Doc(5, ["a", "b"]), Doc(5, ["c", "c"]), Doc(2, ["a"]), Doc(9, ["d"])])
    assert_exact_small(index, {2: ["a"], 5: ["c", "c"], 9: ["d"]})


def assert_exact_small(index: BM25Index, corpus: dict[int, list[str]]) -> None:
    ids = sorted(corpus)
    ref = BM25Okapi([corpus[i] for i in ids])
    for q in (["a"], ["c", "d"], ["b"]):
        got = index.scores(q)
        np.testing.assert_allclose([got[i] for i in ids], ref.get_scores(q), rtol=REL_TOL)


def test_empty_index_scores_nothing() -> None:
    index = BM25Index()
    assert index.match(["a"]).paper_ids.size == 0
    index.build([])
    assert index.scores(["a"]) == {}


def test_filters_apply_to_candidates() -> None:
    index = BM25Index()
    index.build(
        [
            Doc(1, ["x", "y"], date(2024, 1, 5), "arxiv"),
            Doc(2, ["x"], date(2024, 3, 1), "hf"),
            Doc(3, ["x", "z"], None, "arxiv"),
            Doc(4, ["y"], date(2024, 2, 1), "arxiv"),
            Doc(5, ["w"], date(2024, 2, 1), "arxiv"),
        ]
    )

    def ids(**kw: object) -> set[int]:
        return set(index.match(["x"], **kw).paper_ids.tolist())  # type: ignore[arg-type]

    assert ids() == {1, 2, 3}
    assert ids(since=date(2024, 2, 1)) == {2}
    assert ids(until=date(2024, 2, 1)) == {1}  # undated papers drop out of date filters
    assert ids(source="arxiv") == {1, 3}
    assert ids(source="nowhere") == set()
    assert ids(since=date(2024, 1, 1), until=date(2024, 12, 31), source="hf") == {2}


def test_top_k_orders_by_score_then_id_and_breaks_ties_stably() -> None:
    ids = np.array([9, 3, 7, 1, 5, 2], dtype=np.int64)
    scores = np.array([1.0, 2.0, 2.0, 0.5, 2.0, 1.0])
    got_ids, got_scores = top_k(ids, scores, 2)
    assert got_ids.tolist() == [3, 5]  # three-way tie at the top: lowest ids win
    assert top_k(ids, scores, 4)[0].tolist() == [3, 5, 7, 2]
    assert top_k(ids, scores, 100)[0].tolist() == [3, 5, 7, 2, 9, 1]
    assert got_scores.tolist() == [2.0, 2.0]


def test_top_matches_a_full_sort_across_segments() -> None:
    rng = np.random.default_rng(3)
    index = BM25Index()
    index.term_cache.min_postings = 1
    words = ["a", "b", "c", "d"]
    docs = [Doc(i, list(rng.choice(words, size=rng.integers(1, 4)))) for i in range(1, 3000)]
    index.build(docs[:2000])
    index.apply(docs[2000:2500])
    index.apply(docs[2500:])
    for q in (["a"], ["a", "b"], ["c", "d", "d"]):
        c = index.match(q)
        order = np.lexsort((c.paper_ids, -c.scores))
        for k in (1, 10, 137, 5000):
            total, ids, scores = index.top(q, k)
            assert total == len(c.paper_ids)
            assert ids.tolist() == c.paper_ids[order][:k].tolist()
            assert scores.tolist() == c.scores[order][:k].tolist()


def test_top_k_sampling_path_keeps_ties_deterministic() -> None:
    rng = np.random.default_rng(5)
    scores = rng.integers(0, 50, size=200_000).astype(float)  # many ties
    ids = rng.permutation(200_000).astype(np.int64)
    order = np.lexsort((ids, -scores))
    for k in (1, 10, 100):
        got_ids, got_scores = top_k(ids, scores, k)
        assert got_ids.tolist() == ids[order][:k].tolist()
        assert got_scores.tolist() == scores[order][:k].tolist()


def test_term_cache_lets_go_of_merged_segments() -> None:
    index = BM25Index()
    index.term_cache.min_postings = 1
    index.build(Doc(i, ["a", "b", f"x{i}"]) for i in range(1, 50))
    index.apply([Doc(100, ["a", "c"])])
    before = index.top(["a", "b"], 5)[1].tolist()
    assert len(index.term_cache._entries) >= 2
    index.merge()
    live = {id(s.indices) for s in index.snapshot.segments}
    assert all(key[0] in live for key in index.term_cache._entries)
    assert index.top(["a", "b"], 5)[1].tolist() == before


def test_unchanged_papers_are_not_reindexed() -> None:
    index = BM25Index()
    index.build([Doc(1, ["a", "b"], date(2024, 1, 1), "x"), Doc(2, ["b", "c"])])
    before = index.snapshot
    assert index.apply([Doc(1, ["a", "b"], date(2024, 1, 1), "x")]) == 0
    assert index.snapshot is before  # nothing to do: no new segment, no dead document
    assert index.apply([Doc(1, ["a", "b"], date(2024, 1, 2), "x")]) == 1  # a filter field
    assert index.apply([Doc(2, ["c", "b"])]) == 1  # reordered tokens count as a change
    assert index.apply([Doc(3, [])]) == 1
    assert len(index) == 3


@pytest.mark.parametrize("ordered", [True, False])
def test_batched_build_equals_a_single_batch(
    monkeypatch: pytest.MonkeyPatch, ordered: bool
) -> None:
    """Building in small batches (each encoded on its own, then scattered into one segment)
    gives the same arrays as one batch, also when the ids do not arrive in order."""
    rng = random.Random(11)
    corpus = dict(enumerate(random_corpus(rng, 400, vocab=300), start=1))
    corpus[7] = ["w5"] * 70_000  # a term frequency beyond uint16
    ids = sorted(corpus)
    if not ordered:
        rng.shuffle(ids)
    docs = [Doc(i, corpus[i], date(2024, 1, 1 + i % 28), "ab"[i % 2]) for i in ids]

    def built(batch: int) -> BM25Index:
        monkeypatch.setattr(segments, "BUILD_BATCH", batch)
        index = BM25Index()
        index.build(docs)
        return index

    whole, parts = built(10_000), built(7)
    assert whole.vocab == parts.vocab and whole.sources == parts.sources
    (a,), (b,) = whole.snapshot.segments, parts.snapshot.segments
    for name in ("paper_ids", "doc_len", "published", "source", "fingerprints", "indptr"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert np.array_equal(a.indices, b.indices) and np.array_equal(a.tf, b.tf)
    assert a.tf.dtype == b.tf.dtype == np.uint32 and a.indices.dtype == np.int32
    assert np.array_equal(whole.snapshot.df, parts.snapshot.df)
    assert_exact(parts, corpus, queries(rng))
