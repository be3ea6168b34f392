"""An exact, incremental BM25Okapi index laid out for a million papers.

Scores equal rank_bm25's BM25Okapi over the live documents (see `snapshot`). Documents live
in immutable *segments* (see `segments`); a query touches only the postings of its terms and
scores them with numpy (see `scoring`); the filters (date range, source) and liveness are
checked only on the candidate documents, and the top k come from argpartition, not a full
sort. `top` prunes (see `pruning`: MaxScore over per-term bounds, exact): documents that
cannot reach the k-th best score are not ranked, or with a rare word not even scored.

Incremental. `apply` turns a batch of new or changed papers into a new small segment; older
versions of those papers are masked dead in their segments and their terms' df decremented
(one vectorized pass over that segment's postings), so statistics cover exactly the live
documents and results are correct immediately, with no rebuild. Updates that change nothing
the index holds (same fingerprint) are no-ops. Small segments are merged together when there
are many, and into the big one when they reach a fraction of it, which also drops dead
postings. After a change, `prewarm` refills the term cache for the most frequent words.

Concurrency. Every change publishes a new immutable `Snapshot` (copy-on-write for the
arrays it changes); searches read whichever snapshot is current without locking. Callers
serialize mutations (the engine holds a lock).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from bot.search import segments as _segments
from bot.search.pruning import SEED_SHARE, segment_top
from bot.search.scoring import DENSE_SHARE, accumulate, contribution, positive_scores, top_k
from bot.search.segments import (
    NO_DATE,
    Chunk,
    Doc,
    Encoded,
    Segment,
    assemble,
    encode,
    fingerprint,
    segment_from_csr,
)
from bot.search.snapshot import Snapshot, make_snapshot
from bot.search.termcache import TermCache

MAX_SMALL_SEGMENTS = 8
MERGE_FRACTION = 0.125  # small segments fold into the big one past this share of it
MERGE_MIN_DOCS = 20_000
PREWARM_TERMS = 128  # most frequent terms prepared ahead of queries (about fills the cache)
PREWARM_IMPACTS = 1024  # the next terms: only their bounds, impact lists and presence bits


@dataclass
class Candidates:
    """Matching live documents of one query: parallel arrays of paper ids and scores."""

    paper_ids: np.ndarray
    scores: np.ndarray


class BM25Index:
    """Exact incremental BM25Okapi over token lists. Not thread-safe for writers: callers lock."""

    def __init__(self) -> None:
        self.vocab: dict[str, int] = {}
        self.sources: dict[str, int] = {}
        self.snapshot = Snapshot()
        self.term_cache = TermCache()
        self.prune = True  # MaxScore in `top` (same results; False scores every match)

    @classmethod
    def from_state(
        cls,
        terms: Sequence[str],
        sources: Sequence[str],
        segments: Sequence[Segment],
        df: np.ndarray,
    ) -> BM25Index:
        """An index from persisted parts; checks they fit together (ValueError if not)."""
        index = cls()
        index.vocab = {t: i for i, t in enumerate(terms)}
        index.sources = {s: i for i, s in enumerate(sources)}
        if len(index.vocab) != len(terms) or len(df) != len(terms):
            raise ValueError("vocabulary and document frequencies disagree")
        n_docs = total_len = 0
        for seg in segments:
            n = seg.size
            if not (
                len(seg.doc_len) == len(seg.published) == len(seg.source) == len(seg.alive) == n
                and len(seg.fingerprints) == n
                and seg.n_terms <= len(terms)
                and len(seg.indices) == len(seg.tf) == seg.indptr[-1]
                and seg.indptr[0] == 0
                and (np.diff(seg.indptr) >= 0).all()
                and (
                    n == 0
                    or len(seg.indices) == 0
                    or 0 <= seg.indices.min() <= seg.indices.max() < n
                )
                and (n < 2 or (np.diff(seg.paper_ids) > 0).all())
                and (len(seg.source) == 0 or seg.source.max() < max(len(sources), 1))
            ):
                raise ValueError("a segment's arrays are inconsistent")
            n_docs += seg.n_live
            total_len += int(seg.doc_len[seg.alive].sum())
        if (df < 0).any():
            raise ValueError("negative document frequency")
        index.snapshot = make_snapshot(tuple(segments), df, n_docs, total_len)
        return index

    def state(self) -> tuple[list[str], list[str], Snapshot]:
        """What persistence saves: terms by id, sources by code, and the current snapshot."""
        snap = self.snapshot
        terms = list(itertools.islice(self.vocab, len(snap.df)))
        return terms, list(self.sources), snap

    # ----- reading -------------------------------------------------------------------------

    def __len__(self) -> int:
        return self.snapshot.n_docs

    def query_weights(
        self, tokens: Sequence[str], snap: Snapshot | None = None
    ) -> list[tuple[int, float]]:
        """(term id, idf * repeats) of the query's known terms with non-zero weight."""
        snap = snap or self.snapshot
        counts: dict[str, int] = {}
        for t in tokens:
            counts[t] = counts.get(t, 0) + 1
        out = []
        for t, c in counts.items():
            tid = self.vocab.get(t)
            if tid is None:
                continue
            w = snap.idf(tid) * c
            if w:
                out.append((tid, w))
        return out

    def _candidates(
        self,
        snap: Snapshot,
        tokens: Sequence[str],
        since: date | None,
        until: date | None,
        source: str | None,
    ) -> list[tuple[int, np.ndarray, np.ndarray]]:
        """Per segment: (segment number, local docs with score > 0 passing filters, scores)."""
        weights = self.query_weights(tokens, snap)
        src_code = None
        if source is not None:
            src_code = self.sources.get(source)
            if src_code is None:
                return []
        lo = since.toordinal() if since else None
        hi = until.toordinal() if until else None
        out = []
        for i, (seg, norm, all_alive) in enumerate(
            zip(snap.segments, snap.norms, snap.all_alive, strict=True)
        ):
            docs, scores = positive_scores(seg, norm, weights, snap.avgdl, self.term_cache)
            if not len(docs):
                continue
            keep = None if all_alive else seg.alive[docs]
            if lo is not None or hi is not None:
                pub = seg.published[docs]
                if lo is not None:
                    keep = _and(keep, pub >= lo)
                if hi is not None:
                    keep = _and(keep, (pub <= hi) & (pub != NO_DATE))
            if src_code is not None:
                keep = _and(keep, seg.source[docs] == src_code)
            if keep is not None:
                docs, scores = docs[keep], scores[keep]
            out.append((i, docs, scores))
        return out

    def match(
        self,
        tokens: Sequence[str],
        *,
        since: date | None = None,
        until: date | None = None,
        source: str | None = None,
    ) -> Candidates:
        """Every live document with score > 0 that passes the filters (ids, scores)."""
        snap = self.snapshot
        parts = self._candidates(snap, tokens, since, until, source)
        if not parts:
            return Candidates(np.zeros(0, dtype=np.int64), np.zeros(0))
        return Candidates(
            np.concatenate([snap.segments[i].paper_ids[d] for i, d, _ in parts]),
            np.concatenate([sc for _, _, sc in parts]),
        )

    def top(
        self,
        tokens: Sequence[str],
        k: int,
        *,
        since: date | None = None,
        until: date | None = None,
        source: str | None = None,
    ) -> tuple[int, np.ndarray, np.ndarray]:
        """(total matches, best k paper ids, their scores): score desc, then paper id asc.

        With `prune` on (the default) and every query weight positive, segments are ranked
        with MaxScore (see pruning), which gives the same ids and scores as scoring every
        match; `prune = False` scores every match (for comparisons)."""
        snap = self.snapshot
        weights = self.query_weights(tokens, snap)
        if not self.prune or k <= 0 or not weights or any(w <= 0 for _, w in weights):
            return self._top_exhaustive(snap, tokens, k, since, until, source)
        src_code = None
        if source is not None:
            src_code = self.sources.get(source)
            if src_code is None:
                return 0, np.zeros(0, dtype=np.int64), np.zeros(0)
        lo = since.toordinal() if since else None
        hi = until.toordinal() if until else None
        total = 0
        theta = 0.0  # k-th best score of the segments ranked so far: a bound for the rest
        ids: list[np.ndarray] = []
        scores: list[np.ndarray] = []
        for seg, norm, all_alive in zip(snap.segments, snap.norms, snap.all_alive, strict=True):
            keep, keep_all = _keepers(seg, all_alive, lo, hi, src_code)
            res = segment_top(
                seg, norm, weights, snap.avgdl, self.term_cache, k, keep, keep_all, theta
            )
            n, local, best = res
            total += n
            if not len(local):
                continue
            ids.append(seg.paper_ids[local])
            scores.append(best)
            if len(snap.segments) > 1:
                pool = np.concatenate(scores) if len(scores) > 1 else best
                if len(pool) >= k:
                    theta = max(theta, float(np.partition(pool, len(pool) - k)[len(pool) - k]))
        if not ids:
            return total, np.zeros(0, dtype=np.int64), np.zeros(0)
        if len(ids) == 1:
            return total, ids[0], scores[0]
        best_ids, best_scores = top_k(np.concatenate(ids), np.concatenate(scores), k)
        return total, best_ids, best_scores

    def _top_exhaustive(
        self,
        snap: Snapshot,
        tokens: Sequence[str],
        k: int,
        since: date | None,
        until: date | None,
        source: str | None,
    ) -> tuple[int, np.ndarray, np.ndarray]:
        """`top` by scoring every matching document."""
        parts = self._candidates(snap, tokens, since, until, source)
        total = sum(len(d) for _, d, _ in parts)
        ids, scores = [], []
        for i, docs, sc in parts:
            # local order is paper-id order, so per-segment ties break the same way
            local, best = top_k(docs, sc, k)
            ids.append(snap.segments[i].paper_ids[local])
            scores.append(best)
        if not ids:
            return 0, np.zeros(0, dtype=np.int64), np.zeros(0)
        if len(ids) == 1:
            return total, ids[0], scores[0]
        best_ids, best_scores = top_k(np.concatenate(ids), np.concatenate(scores), k)
        return total, best_ids, best_scores

    def scores(self, tokens: Sequence[str]) -> dict[int, float]:
        """Score of every live document (0.0 included), by paper id: for checks and tests."""
        snap = self.snapshot
        weights = self.query_weights(tokens, snap)
        out: dict[int, float] = {}
        for seg, norm in zip(snap.segments, snap.norms, strict=True):
            docs, acc = accumulate(seg, norm, weights)
            if docs is None:
                dense = acc
            else:
                dense = np.zeros(seg.size)
                dense[docs] = acc
            live = np.flatnonzero(seg.alive)
            out.update(zip(seg.paper_ids[live].tolist(), dense[live].tolist(), strict=True))
        return out

    def match_terms(self, weights: dict[str, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(paper ids, scores, published ordinals) of every live document scoring non-zero
        for weighted terms: each term's BM25 contribution with its weight in place of its
        idf. For readers with term weights of their own (the recommender's profiles and
        more-like-this); unknown terms are ignored, NO_DATE marks undated papers."""
        snap = self.snapshot
        tw = [
            (tid, float(w))
            for t, w in weights.items()
            if w and (tid := self.vocab.get(t)) is not None and tid < len(snap.df) and snap.df[tid]
        ]
        ids, scores, pubs = [], [], []
        for seg, norm in zip(snap.segments, snap.norms, strict=True):
            docs, acc = accumulate(seg, norm, tw)
            if docs is None:
                docs = np.flatnonzero(acc)
                acc = acc[docs]
            keep = seg.alive[docs] & (acc != 0)
            docs, acc = docs[keep], acc[keep]
            ids.append(seg.paper_ids[docs])
            scores.append(acc)
            pubs.append(seg.published[docs])
        if not ids:
            return np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0, dtype=np.int32)
        return np.concatenate(ids), np.concatenate(scores), np.concatenate(pubs)

    def paper_ids(self) -> np.ndarray:
        """Ids of all live papers, ascending."""
        parts = [s.paper_ids[s.alive] for s in self.snapshot.segments]
        return np.sort(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)

    # ----- writing -------------------------------------------------------------------------

    def _source_code(self, source: str) -> int:
        code = self.sources.get(source)
        if code is None:
            code = self.sources[source] = len(self.sources)
            if code > np.iinfo(np.int16).max:
                raise ValueError("too many distinct paper sources")
        return code

    def _chunk(self, enc: Encoded) -> Chunk:
        """Postings of an encoded batch, its terms mapped into (and added to) the vocabulary."""
        vocab = self.vocab
        to_global = np.fromiter(
            (vocab.setdefault(t, len(vocab)) for t in enc.terms),
            dtype=np.int32,
            count=len(enc.terms),
        )
        codes = np.fromiter(
            (self._source_code(s) for s in enc.source_names),
            dtype=np.int16,
            count=len(enc.source_names),
        )
        return Chunk(
            paper_ids=enc.paper_ids,
            doc_len=enc.lengths,
            published=enc.published,
            source=codes[enc.source_codes] if len(codes) else np.zeros(0, dtype=np.int16),
            fingerprints=enc.fingerprints,
            terms=to_global,
            counts=enc.counts,
            docs=enc.docs,
            tf=enc.tf,
        )

    def _build_segment(self, docs: Iterable[Doc]) -> Segment:
        """One segment from docs with distinct ids, streamed in batches (sorted by id here).

        Each batch of segments.BUILD_BATCH docs is turned into compact term-major postings
        right away (batch-local doc numbers, uint16 counts), so the token lists of only one
        batch are alive at a time; the batches are then scattered into the segment's final
        arrays, each batch freed as soon as it is copied. Peak memory is about two copies of the
        postings (6 bytes each), not the several int32/int64 matrices of a vstack + tocsc.
        """
        chunks: list[Chunk] = []
        it = iter(docs)
        while part := list(itertools.islice(it, _segments.BUILD_BATCH)):
            chunks.append(self._chunk(encode(part)))
            del part
        return assemble(chunks, len(self.vocab))

    def build(self, docs: Iterable[Doc]) -> int:
        """Replace the whole index with `docs` (distinct ids; ascending ids stream best)."""
        self.vocab.clear()
        self.sources.clear()
        return self._replace(self._build_segment(docs))

    def build_encoded(self, batches: Iterable[Encoded]) -> int:
        """`build` from batches encoded elsewhere (e.g. by worker processes), in doc order."""
        self.vocab.clear()
        self.sources.clear()
        return self._replace(assemble([self._chunk(e) for e in batches], len(self.vocab)))

    def _replace(self, seg: Segment) -> int:
        df = np.zeros(len(self.vocab), dtype=np.int64)
        df[: seg.n_terms] = np.diff(seg.indptr)
        segments = (seg,) if seg.size else ()
        self.term_cache.clear()
        self.snapshot = make_snapshot(segments, df, seg.size, int(seg.doc_len.sum()))
        return seg.size

    def apply(self, docs: Iterable[Doc], remove: Iterable[int] = ()) -> int:
        """Add or replace papers (and drop `remove`d ids); searchable when this returns."""
        latest = {d.paper_id: d for d in docs}  # the last version of a paper wins
        snap = self.snapshot
        self._drop_unchanged(latest, snap.segments)
        gone = set(latest) | set(remove)
        if not gone:
            return 0
        segments = list(snap.segments)
        df = snap.df
        n_docs, total_len = snap.n_docs, snap.total_len
        if gone and segments:
            gone_arr = np.fromiter(gone, dtype=np.int64, count=len(gone))
            gone_arr.sort()
            df = df.copy()
            for i, seg in enumerate(segments):
                pos = np.minimum(np.searchsorted(seg.paper_ids, gone_arr), seg.size - 1)
                pos = pos[seg.paper_ids[pos] == gone_arr]  # distinct, since gone_arr is
                pos = pos[seg.alive[pos]]
                if not len(pos):
                    continue
                dead = np.zeros(seg.size, dtype=bool)
                dead[pos] = True
                hit = np.flatnonzero(dead[seg.indices])
                tids = np.searchsorted(seg.indptr, hit, side="right") - 1
                df[: seg.n_terms] -= np.bincount(tids, minlength=seg.n_terms)
                alive = seg.alive.copy()
                alive[pos] = False
                segments[i] = seg.with_alive(alive)
                n_docs -= len(pos)
                total_len -= int(seg.doc_len[pos].sum())
        if latest:
            seg = self._build_segment(latest[k] for k in sorted(latest))
            segments.append(seg)
            counts = np.diff(seg.indptr)
            if len(df) < len(counts):
                df = np.concatenate([df, np.zeros(len(counts) - len(df), dtype=np.int64)])
            elif df is snap.df:
                df = df.copy()
            df[: len(counts)] += counts
            n_docs += seg.size
            total_len += int(seg.doc_len.sum())
        segments = [s for s in segments if s.n_live]
        self.snapshot = make_snapshot(tuple(segments), df, n_docs, total_len)
        self.term_cache.retain(segments)
        self._maybe_merge()
        return len(latest)

    @staticmethod
    def _drop_unchanged(latest: dict[int, Doc], segments: Sequence[Segment]) -> None:
        """Forget docs whose live version is identical (e.g. only upvotes changed)."""
        if not latest or not segments:
            return
        ids = np.fromiter(sorted(latest), dtype=np.int64, count=len(latest))
        fps = np.fromiter(
            (fingerprint(latest[i]) for i in ids.tolist()), dtype=np.uint64, count=len(ids)
        )
        same = np.zeros(len(ids), dtype=bool)
        for seg in segments:
            if not seg.size:
                continue
            pos = np.minimum(np.searchsorted(seg.paper_ids, ids), seg.size - 1)
            same |= (seg.paper_ids[pos] == ids) & seg.alive[pos] & (seg.fingerprints[pos] == fps)
        for pid in ids[same].tolist():
            del latest[pid]

    def _maybe_merge(self) -> None:
        segs = self.snapshot.segments
        if len(segs) < 2:
            return
        big, small = segs[0], segs[1:]
        small_live = sum(s.n_live for s in small)
        dead = sum(s.size - s.n_live for s in segs)
        if small_live >= max(MERGE_MIN_DOCS, MERGE_FRACTION * big.n_live) or dead > big.size // 4:
            self.merge(segs)
        elif len(small) > MAX_SMALL_SEGMENTS:
            self.merge(small)

    def merge(self, which: Sequence[Segment] | None = None) -> None:
        """Rewrite `which` segments (default: all) as one, dropping dead documents."""
        snap = self.snapshot
        which = list(snap.segments if which is None else which)
        if not which:
            return
        import scipy.sparse as sp  # merging only: searching stays scipy-free

        n_terms = len(self.vocab)
        mats, ids, pubs, srcs, fps = [], [], [], [], []
        for seg in which:
            live = np.flatnonzero(seg.alive)
            mats.append(seg.csc(n_terms).tocsr()[live])
            ids.append(seg.paper_ids[live])
            pubs.append(seg.published[live])
            srcs.append(seg.source[live])
            fps.append(seg.fingerprints[live])
        m = sp.vstack(mats, format="csr")
        paper_ids = np.concatenate(ids)
        order = np.argsort(paper_ids, kind="stable")
        if not np.array_equal(order, np.arange(len(order))):
            m = m[order]
        merged = segment_from_csr(
            sp.csr_array(m),
            paper_ids[order],
            np.concatenate(pubs)[order],
            np.concatenate(srcs)[order],
            np.concatenate(fps)[order],
        )
        keep = [s for s in snap.segments if all(s is not w for w in which)]
        segments = [merged, *keep] if merged.size else keep
        segments.sort(key=lambda s: -s.size)
        self.snapshot = make_snapshot(tuple(segments), snap.df, snap.n_docs, snap.total_len)
        self.term_cache.retain(segments)


def _and(mask: np.ndarray | None, more: np.ndarray) -> np.ndarray:
    return more if mask is None else mask & more


def _keepers(
    seg: Segment, all_alive: bool, lo: int | None, hi: int | None, src_code: int | None
) -> tuple[Callable[[np.ndarray], np.ndarray | None], Callable[[], np.ndarray | None]]:
    """Which local docs are live and pass the filters: for some docs, and for all of them."""

    def keep(docs: np.ndarray) -> np.ndarray | None:
        mask = None if all_alive else seg.alive[docs]
        if lo is not None or hi is not None:
            pub = seg.published[docs]
            if lo is not None:
                mask = _and(mask, pub >= lo)
            if hi is not None:
                mask = _and(mask, (pub <= hi) & (pub != NO_DATE))
        if src_code is not None:
            mask = _and(mask, seg.source[docs] == src_code)
        return mask

    def keep_all() -> np.ndarray | None:
        mask = None if all_alive else seg.alive
        if lo is not None:
            mask = _and(mask, seg.published >= lo)
        if hi is not None:
            mask = _and(mask, (seg.published <= hi) & (seg.published != NO_DATE))
        if src_code is not None:
            mask = _and(mask, seg.source == src_code)
        return mask

    return keep, keep_all


def _column_bytes(seg: Segment, tid: int) -> int:
    """What the term cache holds for one term's column in `seg` (see scoring.contribution)."""
    n = len(seg.postings(tid)[0])
    return 8 * (seg.size if n * DENSE_SHARE >= seg.size and n != seg.size else n)


def prewarm(index: BM25Index, n_terms: int = PREWARM_TERMS) -> None:
    """Fill the term cache for the most frequent terms (after a change, off the query path):
    their score columns, largest contributions and, for long postings, presence bits and
    impact lists (what pruning looks at), so the first queries with common words skip
    those passes. Then the bounds, impact lists and presence bits (small) of the next
    PREWARM_IMPACTS terms long enough for pruning's impact way, without keeping their
    columns (which would push the most frequent terms' out of the cache)."""
    snap = index.snapshot
    if not snap.n_docs or not len(snap.df):
        return
    cache = index.term_cache
    order = np.argsort(snap.df)[::-1]
    # Only as many columns as the cache holds: one more would evict the most frequent
    # terms' columns, prepared first, and their first queries would compute them again.
    room = cache.max_bytes
    for rank, tid in enumerate(order[:n_terms].tolist()):
        room -= sum(_column_bytes(seg, tid) for seg in snap.segments)
        if room < 0:
            n_terms = rank
            break
    bits_room = cache.max_bytes // 4  # presence bits: TermCache.presence's budget
    for rank, tid in enumerate(order[: n_terms + PREWARM_IMPACTS].tolist()):
        if snap.df[tid] < cache.min_postings:
            break
        w = snap.idf(tid)
        if not w:
            continue
        for seg, norm in zip(snap.segments, snap.norms, strict=True):
            postings = seg.postings(tid)[0]
            long = w > 0 and len(postings) * SEED_SHARE > seg.size
            if rank >= n_terms and not long:
                continue
            docs, part = contribution(
                seg, norm, tid, w, snap.avgdl, cache if rank < n_terms else None
            )
            if part is None:
                continue
            cache.bound(seg, tid, snap.avgdl, w, part)
            if long:
                bits_room -= (seg.size + 7) // 8
                if bits_room >= 0:
                    cache.presence(seg, tid, postings)
                cache.impacts(seg, tid, snap.avgdl, w, postings, part, docs is None)
