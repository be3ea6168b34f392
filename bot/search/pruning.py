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
When no term is rare, the segment's scores are summed densely as before, and only documents
at or above a threshold (the k-th best of a strided sample) are gathered and ranked.

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
from bot.search.termcache import Impacts, TermCache, count_bits, presence_bits

# A document is dropped only if its bound is below theta by more than MARGIN * theta: float
# sums taken in another order than the bound's may differ in the last bits.
MARGIN = 1e-9
# MaxScore's look-ups pay while the rarest term holds at most 1/SEED_SHARE of the segment
# (and the essential terms four times that); otherwise the dense path runs.
SEED_SHARE = 32
DENSE_SAMPLE = 16_384  # documents sampled for the dense way's threshold
# Impact ranking (`_by_impact`): prefix sizes of a term's impact list tried when choosing
# its level, the best documents per term whose exact scores seed theta, and the candidate
# count (a share of the segment) above which the dense sum is cheaper.
IMPACT_STEPS = tuple(16 << i for i in range(9))  # 16 .. 4096
IMPACT_SEED = 256
IMPACT_MAX_SHARE = 32
IMPACT_MAX_TERMS = 3  # longer queries of common words rarely prune enough: dense at once

Keep = Callable[[np.ndarray], "np.ndarray | None"]


@dataclass
class _Term:
    order: int  # position in the query's weights (the exhaustive summation order)
    postings: np.ndarray  # local docs, ascending
    values: np.ndarray  # contributions aligned with postings, or dense over the segment
    dense: bool
    bound: float
    tid: int
    weight: float = 0.0
    avgdl: float = 0.0

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
        out.append(_Term(order, postings, part, docs is None, bound, tid, w, avgdl))
    return out


def _union(parts: Sequence[np.ndarray], size: int, *, presorted: bool = True) -> np.ndarray:
    """Sorted distinct local docs in any of `parts` (each sorted, unless not `presorted`)."""
    if not parts:
        return np.zeros(0, dtype=np.int32)
    if len(parts) == 1 and presorted:
        return parts[0]
    n = sum(len(p) for p in parts)
    if n * 16 < size:
        docs = np.concatenate(parts) if len(parts) > 1 else parts[0].copy()
        docs.sort()
        if len(docs) > 1:
            docs = docs[np.concatenate(([True], docs[1:] != docs[:-1]))]
        return docs
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
    if len(terms) == 1:
        mask = keep(terms[0].postings)
        return len(terms[0].postings) if mask is None else int(np.count_nonzero(mask))
    long = [t for t in terms if t.dense or len(t.postings) * SEED_SHARE > seg.size]
    short = [t.postings for t in terms if t not in long]
    if not long:
        docs = _union(short, seg.size)
        mask = keep(docs)
        return len(docs) if mask is None else int(np.count_nonzero(mask))
    # Long terms: ORs of their presence bits (cached); short ones: only their documents
    # outside that union are looked at.
    bits = _presence(seg, long[0], cache)
    for t in long[1:]:
        bits = bits | _presence(seg, t, cache)
    allowed = keep_all()
    if allowed is not None:
        bits = bits & np.packbits(allowed)
    total = count_bits(bits)
    if short:
        docs = _union(short, seg.size)
        docs = docs[(bits[docs >> 3] >> (7 - (docs & 7)).astype(np.uint8)) & 1 == 0]
        mask = keep(docs)
        total += len(docs) if mask is None else int(np.count_nonzero(mask))
    return total


def _presence(seg: Segment, t: _Term, cache: TermCache | None) -> np.ndarray:
    if cache is not None:
        return cache.presence(seg, t.tid, t.postings)
    return presence_bits(t.postings, seg.size)


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
) -> tuple[int, np.ndarray, np.ndarray]:
    """(matches passing the filters, best k local docs, their scores) of one segment.

    `weights` are all positive; `keep(docs)` says which local docs pass liveness and the
    filters (None: all), `keep_all()` the same over the whole segment; `theta` is a known
    lower bound of the k-th best score overall (e.g. from segments already ranked), or 0.
    Candidates come from the essential terms' postings when those are short (`_maxscore`),
    else from the dense sum of all terms cut at a threshold (`_dense`); both exact."""
    terms = _terms(seg, norm, weights, avgdl, cache)
    if not terms:
        return 0, np.zeros(0, dtype=np.int64), np.zeros(0)
    local, scores, acc = _maxscore(seg, terms, k, keep, keep_all, theta, cache)
    if acc is None:
        total = count_matches(seg, terms, keep, keep_all, cache)
    else:  # the dense way has every score at hand: count the positive ones
        positive = acc > 0
        allowed = keep_all()
        if allowed is not None:
            positive &= allowed
        total = int(np.count_nonzero(positive))
    return total, local, scores


def _maxscore(
    seg: Segment,
    terms: Sequence[_Term],
    k: int,
    keep: Keep,
    keep_all: Callable[[], np.ndarray | None],
    theta: float,
    cache: TermCache | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """MaxScore over the segment (see module doc): best k local docs, their scores, and
    the dense scores of every document when the dense way computed them."""
    small = seg.size // SEED_SHARE
    shortest = min(terms, key=lambda t: len(t.postings))
    if len(terms) == 1 and not shortest.dense:  # rank the postings' own scores
        values = shortest.values
        step = max(1, len(values) // DENSE_SAMPLE)
        pick = np.arange(len(values))
        if len(values) > small:
            sample = values[::step]
            sampled_ok = keep(shortest.postings[::step])  # only documents that may be shown
            if sampled_ok is not None:
                sample = sample[sampled_ok]
            if len(sample) >= k:
                theta = max(theta, float(np.partition(sample, len(sample) - k)[len(sample) - k]))
            if theta > 0:
                pick = np.flatnonzero(values >= _cut(theta, 0.0))
        cand = shortest.postings[pick]
        mask = keep(cand)
        if mask is not None:
            cand, pick = cand[mask], pick[mask]
        return (*top_k(cand, values[pick], k), None)
    if shortest.dense or len(shortest.postings) > small:
        return _by_impact(seg, terms, k, keep, keep_all, theta, cache)
    # Seed theta with the exact scores of the rarest term's documents (the k-th best of
    # real documents is a lower bound of the true k-th best).
    seed = _filtered(shortest.postings, keep)
    if len(seed) >= k:
        scores = _exact(terms, seed)
        theta = max(theta, float(np.partition(scores, len(seed) - k)[len(seed) - k]))
    # Non-essential terms: bounds summing below theta, chosen to leave the fewest postings
    # to the essential ones (any such set is correct; long postings are what costs).
    non_essential = _cheapest_cover(terms, theta) if theta > 0 else []
    essential = [t for t in terms if t not in non_essential]
    if not essential:  # even a document with every term scores below theta
        return np.zeros(0, dtype=np.int64), np.zeros(0), None
    if any(t.dense for t in essential) or sum(len(t.postings) for t in essential) > small * 4:
        return _by_impact(seg, terms, k, keep, keep_all, theta, cache)
    # Candidates: the essential terms' documents; the others are looked up.
    rest = sum(t.bound for t in non_essential)
    cand = _filtered(_union([t.postings for t in essential], seg.size), keep)
    if non_essential and len(cand):
        partial = np.zeros(len(cand))
        for t in essential:
            partial += t.at(cand)
        cand = cand[partial >= _cut(theta, rest)]
    return (*top_k(cand, _exact(terms, cand), k), None)


def _by_impact(
    seg: Segment,
    terms: Sequence[_Term],
    k: int,
    keep: Keep,
    keep_all: Callable[[], np.ndarray | None],
    theta: float,
    cache: TermCache | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Rank common terms from their impact lists (a threshold algorithm), else `_dense`.

    Each term gets a level L_t with sum(L_t) below theta (with the margin): a document
    whose every contribution is below its term's level scores below theta, so the
    candidates are the documents at or above their level in some term's impact list (a
    prefix of it: see TermCache.impacts). Theta is seeded with the exact scores of each
    list's best documents; the levels are lowered greedily, each step the one that gives
    up the most score per added candidate. Candidates are summed exactly as `_exact`
    does, so ids and scores equal the exhaustive path's. When the lists are not cached
    (no term cache), the query has more than IMPACT_MAX_TERMS terms or the candidates would
    be many, the dense sum is cheaper."""
    if cache is None or theta < 0 or len(terms) > IMPACT_MAX_TERMS:
        return _dense(seg, terms, k, keep, keep_all, theta)
    lists = [
        cache.impacts(seg, t.tid, t.avgdl, t.weight, t.postings, t.values, t.dense)
        if len(t.postings) >= cache.min_postings
        else None
        for t in terms
    ]
    seeds = _union(
        [
            t.postings[:IMPACT_SEED] if lst is None else lst.docs[:IMPACT_SEED]
            for t, lst in zip(terms, lists, strict=True)
        ],
        seg.size,
        presorted=False,
    )
    seeds = _filtered(seeds, keep)
    if len(seeds) >= k:
        scores = _exact(terms, seeds)
        theta = max(theta, float(np.partition(scores, len(seeds) - k)[len(seeds) - k]))
    if theta <= 0:
        return _dense(seg, terms, k, keep, keep_all, theta)
    options = [_level_options(t, lst) for t, lst in zip(terms, lists, strict=True)]
    at = [0] * len(terms)
    level = [opts[0][0] for opts in options]
    size = 0
    limit = seg.size // IMPACT_MAX_SHARE
    while sum(level) * (1 + MARGIN) >= theta:
        best, gain = -1, -1.0
        for i, opts in enumerate(options):
            if at[i] + 1 < len(opts):
                (lv, n), (lv2, n2) = opts[at[i]], opts[at[i] + 1]
                g = (lv - lv2) / max(n2 - n, 1)
                if g > gain:
                    best, gain = i, g
        if best < 0:
            return _dense(seg, terms, k, keep, keep_all, theta)
        size += options[best][at[best] + 1][1] - options[best][at[best]][1]
        if size > limit:
            return _dense(seg, terms, k, keep, keep_all, theta)
        at[best] += 1
        level[best] = options[best][at[best]][0]
    parts = []
    for t, lst, lv, i in zip(terms, lists, level, at, strict=True):
        if i == 0:
            continue
        if lst is None:
            parts.append(t.postings)
        else:
            n = int(np.searchsorted(-lst.values, -lv, side="right"))
            parts.append(lst.docs[:n])
    cand = _filtered(_union(parts, seg.size, presorted=False), keep)
    return (*top_k(cand, _exact(terms, cand), k), None)


def _level_options(t: _Term, lst: Impacts | None) -> list[tuple[float, int]]:
    """(level, about how many documents it admits) for one term, levels descending: first
    none (above the bound), then prefixes of its impact list that are provably complete
    (every document at or above the level is listed), last everything listed."""
    none = (float(np.nextafter(t.bound, np.inf)), 0)
    if lst is None:
        return [none, (0.0, len(t.postings))]
    values = lst.values
    m = len(values)
    out = [none]
    floor = -np.inf if lst.complete else float(values[-1])
    for n in IMPACT_STEPS:
        if n >= m:
            break
        lv = float(values[n])
        if lv > floor and lv < out[-1][0]:
            out.append((lv, n + 1))
    if lst.complete:
        out.append((0.0, m))
    elif floor < out[-1][0]:
        out.append((float(np.nextafter(floor, np.inf)), m))
    return out



def _dense(
    seg: Segment,
    terms: Sequence[_Term],
    k: int,
    keep: Keep,
    keep_all: Callable[[], np.ndarray | None],
    theta: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """When no cheap essential set exists: sum every term over the segment (the exhaustive
    path's floats), then rank only documents at or above theta, raised to the k-th best of
    a strided sample of live, filtered documents; saves the nonzero/gather/partition over
    every match, which is most of an exhaustive query's time."""
    acc = terms[0].values if len(terms) == 1 else _exact_dense(seg, terms)  # (read only)
    allowed = keep_all()
    step = max(1, seg.size // DENSE_SAMPLE)
    sample = acc[::step] if allowed is None else acc[::step][allowed[::step]]
    if len(sample) >= k:
        theta = max(theta, float(np.partition(sample, len(sample) - k)[len(sample) - k]))
    cand = np.flatnonzero(acc >= _cut(theta, 0.0)) if theta > 0 else np.flatnonzero(acc > 0)
    cand = _filtered(cand, keep)
    return (*top_k(cand, acc[cand], k), acc)


def _cut(theta: float, rest: float) -> float:
    """Smallest partial sum that, with `rest` added, may still reach theta (with margin)."""
    return theta - rest - MARGIN * theta


def _cheapest_cover(terms: Sequence[_Term], theta: float) -> list[_Term]:
    """The terms to treat as non-essential: bounds summing to below theta (with the margin),
    as many postings as possible. Exhaustive over subsets for short queries, greedy else."""

    def fits(subset: Sequence[_Term]) -> bool:
        return sum(t.bound for t in subset) * (1 + MARGIN) < theta

    if len(terms) <= 10:
        best: list[_Term] = []
        best_len = -1
        for mask in range(1, 1 << len(terms)):
            subset = [t for i, t in enumerate(terms) if mask >> i & 1]
            n = sum(len(t.postings) for t in subset)
            if n > best_len and fits(subset):
                best, best_len = subset, n
        return best
    chosen: list[_Term] = []
    for t in sorted(terms, key=lambda t: -len(t.postings)):
        if fits([*chosen, t]):
            chosen.append(t)
    return chosen


def _exact_dense(seg: Segment, terms: Sequence[_Term]) -> np.ndarray:
    """Scores of every document of the segment, in the exhaustive path's order."""
    ordered = sorted(terms, key=lambda t: (not t.dense, t.order))
    first = ordered[0]
    if first.dense and len(ordered) > 1 and ordered[1].dense:
        acc = np.add(first.values, ordered[1].values)  # one pass fewer than copy, then add
        ordered = ordered[2:]
    elif first.dense:
        acc = first.values.copy()
        ordered = ordered[1:]
    else:
        acc = np.zeros(seg.size)
        acc[first.postings] = first.values  # 0.0 + v is v: the same floats as adding
        ordered = ordered[1:]
    for t in ordered:
        if t.dense:
            acc += t.values
        else:
            acc[t.postings] += t.values
    return acc


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
