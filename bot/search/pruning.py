"""MaxScore: the exact top k of one segment without scoring every matching document.

Why. A query with a common word matches most of the corpus; scoring, filtering and ranking
every match costs O(matches) although only k of them are shown. Each term's contribution in
a segment is bounded by its largest value (`bound`, cached with the term's contributions),
so once some documents are scored, the k-th best of them (`theta`) is a lower bound of the
segment's true k-th best, and any document matching only terms whose bounds add up to less
than theta cannot enter the top k. Those terms are *non-essential*: candidates come from the
postings of the other (essential, usually rare and short) terms only, and the non-essential
contributions are looked up at the candidates (a slice of a cached dense column, or a binary
search in a sorted postings list) instead of being accumulated over the whole segment.

Exactness. Bounds are maxima of the very float contributions that are summed, compared with
a relative margin, and a document is dropped only when its bound is *strictly* below theta
(an equal score could still win its place on the paper-id tie-break). Surviving candidates
are summed in the same order as the exhaustive path (`scoring.accumulate`: dense terms, then
sparse ones, each in query order; an absent term adds 0.0, which changes no float), so their
scores are bit-for-bit those of exhaustive scoring and ties break the same way. The match
count (`total`) stays exact: the union of every term's postings, counted with bool masks.

Only for queries whose term weights are all positive (BM25Okapi's floor can make them
negative in a tiny corpus); the caller scores everything otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from bot.search.scoring import contribution, top_k
from bot.search.segments import Segment
from bot.search.termcache import TermCache

# A document is dropped only if bound * (1 + MARGIN) < theta: float sums taken in another
# order than the bound's may differ in the last bits.
MARGIN = 1e-9
# Give up pruning (score everything) when the essential candidates are this large a share of
# the segment: pruning would then cost more than it saves.
MAX_CANDIDATE_SHARE = 4

Keep = Callable[[np.ndarray], "np.ndarray | None"]


@dataclass
class _Term:
    order: int  # position in the query's weights (the exhaustive summation order)
    postings: np.ndarray  # local docs, ascending
    values: np.ndarray  # contributions aligned with postings, or dense over the segment
    dense: bool
    bound: float
    tid: int

    def at(self, cand: np.ndarray) -> np.ndarray:
        """Contributions at sorted local docs `cand` (0.0 where the term is absent)."""
        if self.dense:
            return self.values[cand]
        docs = self.postings
        if len(cand) == len(docs) and np.array_equal(cand, docs):
            return self.values
        pos = np.searchsorted(docs, cand)
        np.minimum(pos, len(docs) - 1, out=pos)
        hit = docs[pos] == cand
        return np.where(hit, self.values[pos], 0.0)


def _terms(
    seg: Segment,
    norm: np.ndarray,
    weights: Sequence[tuple[int, float]],
    avgdl: float,
    cache: TermCache | None,
) -> list[_Term]:
    out = []
    for order, (tid, w) in enumerate(weights):
        docs, part = contribution(seg, norm, tid, w, avgdl, cache)
        if part is None:
            continue
        postings = seg.postings(tid)[0] if docs is None else docs
        bound = cache.bound(seg, tid, avgdl, w, part) if cache is not None else None
        if bound is None:
            bound = float(part.max())
        out.append(_Term(order, postings, part, docs is None, bound, tid))
    return out


def _union(parts: Sequence[np.ndarray], size: int) -> np.ndarray:
    """Sorted distinct local docs in any of `parts` (each sorted)."""
    if len(parts) == 1:
        return parts[0]
    n = sum(len(p) for p in parts)
    if n * 16 < size:
        return np.unique(np.concatenate(parts))
    mask = np.zeros(size, dtype=bool)
    for p in parts:
        mask[p] = True
    return np.flatnonzero(mask)


def count_matches(
    seg: Segment,
    terms: Sequence[_Term],
    keep: Keep,
    keep_all: Callable[[], np.ndarray | None],
    cache: TermCache | None,
) -> int:
    """How many documents (passing `keep`) contain at least one of the terms."""
    if not terms:
        return 0
    dense = [t for t in terms if t.dense]
    sparse = [t.postings for t in terms if not t.dense]
    if not dense and sum(len(p) for p in sparse) * 16 < seg.size:
        docs = _union(sparse, seg.size)
        mask = keep(docs)
        return len(docs) if mask is None else int(np.count_nonzero(mask))
    if dense:
        first = dense[0]
        present = cache.presence(seg, first.tid, first.values) if cache else first.values > 0
        union = present.copy()
        for t in dense[1:]:
            union |= cache.presence(seg, t.tid, t.values) if cache else t.values > 0
    else:
        union = np.zeros(seg.size, dtype=bool)
    for p in sparse:
        union[p] = True
    allowed = keep_all()
    if allowed is not None:
        union &= allowed
    return int(np.count_nonzero(union))


def segment_top(
    seg: Segment,
    norm: np.ndarray,
    weights: Sequence[tuple[int, float]],
    avgdl: float,
    cache: TermCache | None,
    k: int,
    keep: Keep,
    keep_all: Callable[[], np.ndarray | None],
    theta: float,
) -> tuple[int, np.ndarray, np.ndarray] | None:
    """(matches passing the filters, best k local docs, their scores), or None when pruning
    would not pay (the caller then scores the segment exhaustively).

    `weights` are all positive; `keep(docs)` says which local docs pass liveness and the
    filters (None: all), `keep_all()` the same over the whole segment; `theta` is a known
    lower bound of the k-th best score overall (e.g. from segments already ranked), or 0."""
    terms = _terms(seg, norm, weights, avgdl, cache)
    if not terms:
        return 0, np.zeros(0, dtype=np.int64), np.zeros(0)
    total = count_matches(seg, terms, keep, keep_all, cache)
    if total == 0:
        return 0, np.zeros(0, dtype=np.int64), np.zeros(0)
    limit = seg.size // MAX_CANDIDATE_SHARE
    by_bound = sorted(terms, key=lambda t: -t.bound)
    # Seed: documents of the highest-bound terms, until k of them pass the filters; their
    # exact k-th best score is a first theta.
    seeded: list[_Term] = []
    cand = np.zeros(0, dtype=np.int64)
    for t in by_bound:
        if t.dense:
            break
        seeded.append(t)
        cand = _filtered(_union([s.postings for s in seeded], seg.size), keep)
        if len(cand) >= k or len(seeded) == len(terms) or len(cand) > limit:
            break
    if len(cand) > limit or not seeded:
        return None
    if len(seeded) == len(terms):  # every term's postings are in: nothing to prune
        return (total, *top_k(cand, _exact(terms, cand), k))
    if len(cand) >= k:
        seed_scores = _exact(terms, cand)
        theta = max(theta, float(np.partition(seed_scores, len(cand) - k)[len(cand) - k]))
    # Non-essential: the lowest-bound terms whose bounds sum to below theta.
    ascending = by_bound[::-1]
    rest = 0.0
    n_non = 0
    for t in ascending:
        if (rest + t.bound) * (1 + MARGIN) >= theta:
            break
        rest += t.bound
        n_non += 1
    essential = ascending[n_non:]
    non_essential = ascending[:n_non]
    if not essential:  # even a document with every term scores below theta
        return total, np.zeros(0, dtype=np.int64), np.zeros(0)
    if any(t.dense for t in essential):
        return None
    if {t.order for t in essential} != {t.order for t in seeded}:
        cand = _filtered(_union([t.postings for t in essential], seg.size), keep)
        if len(cand) > limit:
            return None
    if non_essential and len(cand):
        # Drop candidates whose essential part plus every non-essential bound is below theta.
        partial = np.zeros(len(cand))
        for t in essential:
            partial += t.at(cand)
        cand = cand[(partial + rest) * (1 + MARGIN) >= theta]
    return (total, *top_k(cand, _exact(terms, cand), k))


def _filtered(docs: np.ndarray, keep: Keep) -> np.ndarray:
    mask = keep(docs)
    return docs if mask is None else docs[mask]


def _exact(terms: Sequence[_Term], cand: np.ndarray) -> np.ndarray:
    """Scores at `cand`, summed in the exhaustive path's order (dense terms first, then
    sparse ones, each in query order), so they equal its floats bit for bit."""
    ordered = sorted(terms, key=lambda t: (not t.dense, t.order))
    if ordered[0].dense:
        acc = ordered[0].values[cand]  # a fresh array (fancy indexing copies)
        ordered = ordered[1:]
    else:
        acc = np.zeros(len(cand))
    for t in ordered:
        acc += t.at(cand)
    return acc
