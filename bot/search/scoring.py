"""Scoring one query against one segment, and picking the top k.

Long postings of common words dominate query time; their per-posting contributions (fixed
between changes, since they depend only on avgdl and the term's idf) come from a `TermCache`
when it has them, densely for words in a third of the segment's documents or more. Top-k
first cuts the field with the k-th best score of a 1/16 sample (a lower bound of the true
k-th best), then argpartitions.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bot.search.segments import EMPTY_I32, Segment
from bot.search.snapshot import K1
from bot.search.termcache import TermCache

_SAMPLE_STEP = 16
DENSE_SHARE = 3  # cache a term densely when it is in at least 1/3 of a segment


def contribution(
    seg: Segment, norm: np.ndarray, tid: int, w: float, avgdl: float, cache: TermCache | None
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """One term's score contributions: (docs, values) sparse, (None, dense values), or
    (docs, None) when the segment lacks the term."""
    docs, tf = seg.postings(tid)
    if not len(docs):
        return docs, None
    cacheable = cache is not None and len(docs) >= cache.min_postings
    if cacheable:
        assert cache is not None
        hit = cache.get(seg, tid, avgdl, w)
        if hit is not None:
            return (None, hit) if len(hit) == seg.size and len(docs) != seg.size else (docs, hit)
    part = np.take(norm, docs)
    part += tf
    np.divide(tf, part, out=part)
    part *= w * (K1 + 1)
    if cacheable:
        assert cache is not None
        if len(docs) * DENSE_SHARE >= seg.size and len(docs) != seg.size:
            dense = np.zeros(seg.size)
            dense[docs] = part
            cache.put(seg, tid, avgdl, w, dense)
            return None, dense
        cache.put(seg, tid, avgdl, w, part)
    return docs, part


def accumulate(
    seg: Segment,
    norm: np.ndarray,
    weights: Sequence[tuple[int, float]],
    avgdl: float = 0.0,
    cache: TermCache | None = None,
) -> tuple[np.ndarray | None, np.ndarray]:
    """BM25 sums over the query terms: (docs, scores) for one term's postings, or
    (None, dense scores over the segment) when several terms contribute."""
    dense: list[np.ndarray] = []
    sparse: list[tuple[np.ndarray, np.ndarray]] = []
    for tid, w in weights:
        docs, part = contribution(seg, norm, tid, w, avgdl, cache)
        if part is None:
            continue
        if docs is None:
            dense.append(part)
        else:
            sparse.append((docs, part))
    if not dense:
        if not sparse:
            return EMPTY_I32, np.zeros(0)
        if len(sparse) == 1:
            return sparse[0]
    if dense:
        acc = dense[0].copy()
        for d in dense[1:]:
            acc += d
    else:
        acc = np.zeros(seg.size)
    for docs, part in sparse:
        acc[docs] += part  # a term's postings hold each document once (so no np.add.at)
    return None, acc


def positive_scores(
    seg: Segment,
    norm: np.ndarray,
    weights: Sequence[tuple[int, float]],
    avgdl: float,
    cache: TermCache | None,
) -> tuple[np.ndarray, np.ndarray]:
    """(local docs, scores) of the segment's documents scoring above zero."""
    docs, acc = accumulate(seg, norm, weights, avgdl, cache)
    if docs is None:
        docs = np.flatnonzero(acc > 0)
        return docs, acc[docs]
    if len(acc) and not (acc > 0).all():
        keep = acc > 0
        return docs[keep], acc[keep]
    return docs, acc


def top_k(ids: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k best (score desc, paper id asc) without sorting everything; ties are stable."""
    n = len(scores)
    if k <= 0 or n == 0:
        return ids[:0], scores[:0]
    sel: np.ndarray | None = None
    if n > _SAMPLE_STEP * 4 * k:
        # The k-th best of a subset is a lower bound for the k-th best of all: cut the
        # field down with a cheap pass before partitioning.
        sample = scores[::_SAMPLE_STEP]
        cut = np.partition(sample, len(sample) - k)[len(sample) - k]
        sel = np.flatnonzero(scores >= cut)
    sub = scores if sel is None else scores[sel]
    if k < len(sub):
        part = np.argpartition(-sub, k - 1)[:k]
        threshold = sub[part].min()
        keep = np.flatnonzero(sub >= threshold)  # every tie at the cut, for determinism
        sel = keep if sel is None else sel[keep]
    elif sel is None:
        sel = np.arange(n)
    order = np.lexsort((ids[sel], -scores[sel]))[:k]
    sel = sel[order]
    return ids[sel], scores[sel]
