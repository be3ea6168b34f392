"""An exact, incremental BM25Okapi index laid out for a million papers.

Exactness. Scores equal `rank_bm25.BM25Okapi(token_lists).get_scores(query_tokens)` over the
live documents: k1=1.5, b=0.75, idf = log(N-n+0.5) - log(n+0.5), negative idfs replaced by
epsilon * average_idf (average over every term in the corpus, before flooring), query tokens
summed with repeats, unknown tokens adding 0. Nothing derived is stored: segments keep raw
term frequencies and document lengths; N, total length (so avgdl) and per-term document
frequencies (df) are counts over live documents, and idf/average_idf/length norms are derived
from them whenever the index changes.

Layout. Documents live in *segments*: immutable term->document postings (CSC: indptr per term,
local doc indices, term frequencies) plus per-document arrays (paper id, length, published day,
source code). A query touches only the postings of its terms and scores them with numpy; the
filters (date range, source) and liveness are checked only on the candidate documents, and
the top k come from argpartition, not a full sort.

Incremental. `apply` turns a batch of new or changed papers into a new small segment; older
versions of those papers are masked dead in their segments and their terms' df decremented
(one vectorized pass over that segment's postings), so statistics cover exactly the live
documents and results are correct immediately, with no rebuild. A per-paper fingerprint
(hash of its tokens and filter fields) turns updates that change nothing the index holds,
such as new upvotes, into no-ops. Small segments are merged together when there are many,
and into the big one when they reach a fraction of it, which also drops dead postings.

Speed. Long postings of common words dominate query time; their per-posting contributions
(fixed between changes, since they depend only on avgdl and the term's idf) are kept in a
bounded `TermCache`, densely for words in a third of the documents or more, and refilled for
the most frequent words after each change (`prewarm`). Top-k first cuts the field with the
k-th best score of a 1/16 sample (a lower bound of the true k-th best), then argpartitions.

Concurrency. Every change publishes a new immutable `Snapshot` (copy-on-write for the
arrays it changes); searches read whichever snapshot is current without locking. Callers
serialize mutations (the engine holds a lock).
"""

from __future__ import annotations

import hashlib
import itertools
import math
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import scipy.sparse as sp

K1 = 1.5
B = 0.75
EPSILON = 0.25
NO_DATE = 0  # `published` ordinal for papers without a date (real ordinals start at 1)
MAX_SMALL_SEGMENTS = 8
MERGE_FRACTION = 0.125  # small segments fold into the big one past this share of it
MERGE_MIN_DOCS = 20_000
BUILD_BATCH = 50_000  # documents tokenized and encoded at a time while building
_SAMPLE_STEP = 16
DENSE_SHARE = 3  # cache a term densely when it is in at least 1/3 of a segment


@dataclass(frozen=True)
class Doc:
    """One paper as the index sees it: its id, its BM25 token list and its filter fields."""

    paper_id: int
    tokens: Sequence[str]
    published: date | None = None
    source: str = ""


def fingerprint(doc: Doc) -> int:
    """A stable 64-bit hash of what the index holds of a paper (tokens and filter fields)."""
    h = hashlib.blake2b(digest_size=8)
    h.update("\x1f".join(doc.tokens).encode("utf-8", "surrogatepass"))
    h.update(f"\x1e{doc.published.toordinal() if doc.published else 0}\x1e{doc.source}".encode())
    return int.from_bytes(h.digest(), "little")


@dataclass(frozen=True, eq=False)
class Segment:
    """Documents sorted by paper id with their postings; only `alive` changes (copy-on-write)."""

    paper_ids: np.ndarray  # int64, ascending
    doc_len: np.ndarray  # int64
    published: np.ndarray  # int32 day ordinal, NO_DATE when unknown
    source: np.ndarray  # int16 code into BM25Index.sources
    fingerprints: np.ndarray  # uint64 hash of tokens + filter fields: skips no-op updates
    indptr: np.ndarray  # int64, one entry per term id known when built, + 1
    indices: np.ndarray  # int32 local document index, ascending within a term
    tf: np.ndarray  # uint16/uint32 term frequency
    alive: np.ndarray  # bool

    @property
    def size(self) -> int:
        return len(self.paper_ids)

    @property
    def n_live(self) -> int:
        return int(np.count_nonzero(self.alive))

    @property
    def n_terms(self) -> int:
        return len(self.indptr) - 1

    def postings(self, tid: int) -> tuple[np.ndarray, np.ndarray]:
        if tid >= self.n_terms:
            return _EMPTY_I32, _EMPTY_TF
        s, e = self.indptr[tid], self.indptr[tid + 1]
        return self.indices[s:e], self.tf[s:e]

    def csc(self, n_terms: int) -> sp.csc_array:
        indptr = self.indptr
        if n_terms > self.n_terms:
            indptr = np.concatenate([indptr, np.full(n_terms - self.n_terms, indptr[-1])])
        return sp.csc_array((self.tf, self.indices, indptr), shape=(self.size, n_terms))

    def with_alive(self, alive: np.ndarray) -> Segment:
        return Segment(
            self.paper_ids,
            self.doc_len,
            self.published,
            self.source,
            self.fingerprints,
            self.indptr,
            self.indices,
            self.tf,
            alive,
        )


_EMPTY_I32 = np.zeros(0, dtype=np.int32)
_EMPTY_TF = np.zeros(0, dtype=np.uint16)


def _segment_from_csr(
    m: sp.csr_array,
    paper_ids: np.ndarray,
    published: np.ndarray,
    source: np.ndarray,
    fingerprints: np.ndarray,
) -> Segment:
    """A segment from a docs x terms count matrix (rows sorted by paper id)."""
    doc_len = np.asarray(m.sum(axis=1)).ravel().astype(np.int64)
    c = m.tocsc()
    c.sort_indices()
    tf = c.data
    tf = tf.astype(np.uint16) if (len(tf) == 0 or tf.max() < 65536) else tf.astype(np.uint32)
    return Segment(
        paper_ids=np.ascontiguousarray(paper_ids, dtype=np.int64),
        doc_len=doc_len,
        published=np.ascontiguousarray(published, dtype=np.int32),
        source=np.ascontiguousarray(source, dtype=np.int16),
        fingerprints=np.ascontiguousarray(fingerprints, dtype=np.uint64),
        indptr=c.indptr.astype(np.int64),
        indices=c.indices.astype(np.int32),
        tf=tf,
        alive=np.ones(len(paper_ids), dtype=bool),
    )


@dataclass(frozen=True, eq=False)
class Encoded:
    """A batch of documents as postings over terms numbered within the batch.

    This is the part of building that needs no shared state (tokens -> batch-local ids ->
    term-major postings, fingerprints), so worker processes can do it; the index then maps
    the batch's terms to its vocabulary in order of first appearance, which gives exactly the
    ids a sequential build assigns. Picklable.
    """

    paper_ids: np.ndarray  # int64
    lengths: np.ndarray  # int64 tokens per document
    published: np.ndarray  # int32 day ordinal
    source_names: tuple[str, ...]  # in order of first appearance
    source_codes: np.ndarray  # int16 into source_names
    fingerprints: np.ndarray  # uint64
    terms: tuple[str, ...]  # in order of first appearance (batch-local term id = position)
    counts: np.ndarray  # int64 postings per batch-local term
    docs: np.ndarray  # uint16/int32 batch-local document, grouped by term, ascending within
    tf: np.ndarray  # uint16/uint32


def _ids(vocab: dict[str, int], tokens: Sequence[str]) -> list[int]:
    ids = list(map(vocab.get, tokens))
    if None in ids:  # new terms get the next ids, in order of first appearance
        for i, t in enumerate(tokens):
            if ids[i] is None:
                ids[i] = vocab.setdefault(t, len(vocab))
    return ids  # type: ignore[return-value]


def encode(docs: Sequence[Doc]) -> Encoded:
    """A batch of documents as batch-local term ids (see Encoded)."""
    terms: dict[str, int] = {}
    sources: dict[str, int] = {}
    lengths = np.fromiter((len(d.tokens) for d in docs), dtype=np.int64, count=len(docs))
    term_ids = np.fromiter(
        itertools.chain.from_iterable(_ids(terms, d.tokens) for d in docs),
        dtype=np.int32,
        count=int(lengths.sum()),
    )
    counts, local_docs, tf = _postings(term_ids, lengths, len(terms))
    del term_ids
    return Encoded(
        paper_ids=np.fromiter((d.paper_id for d in docs), dtype=np.int64, count=len(docs)),
        lengths=lengths,
        published=np.fromiter(
            (d.published.toordinal() if d.published else NO_DATE for d in docs),
            dtype=np.int32,
            count=len(docs),
        ),
        source_codes=np.fromiter(
            (sources.setdefault(d.source, len(sources)) for d in docs),
            dtype=np.int64,
            count=len(docs),
        ),
        source_names=tuple(sources),
        fingerprints=np.fromiter(map(fingerprint, docs), dtype=np.uint64, count=len(docs)),
        terms=tuple(terms),
        counts=counts,
        docs=local_docs,
        tf=tf,
    )


@dataclass(frozen=True, eq=False)
class _Chunk:
    """A batch of documents with term-major postings numbered within the batch."""

    paper_ids: np.ndarray  # int64
    doc_len: np.ndarray  # int64
    published: np.ndarray  # int32
    source: np.ndarray  # int16
    fingerprints: np.ndarray  # uint64
    terms: np.ndarray  # int32 distinct term ids of the batch (any order)
    counts: np.ndarray  # int64 postings per term, in the order of `terms`
    docs: np.ndarray  # uint16/int32 batch-local document, grouped like terms, ascending within
    tf: np.ndarray  # uint16/uint32

    @property
    def size(self) -> int:
        return len(self.paper_ids)


def _postings(
    cols: np.ndarray, lengths: np.ndarray, n_terms: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(postings per term, documents, tfs) of a batch, term-major, from its documents' term
    ids (concatenated, `lengths` each; every id below n_terms occurring at least once)."""
    n = len(lengths)
    rows = np.repeat(np.arange(n, dtype=np.int32), lengths)
    ones = np.ones(len(cols), dtype=np.int32)
    c = sp.coo_array((ones, (rows, cols)), shape=(n, n_terms)).tocsc()  # sums repeats
    del rows, ones
    c.sum_duplicates()  # canonical: rows ascending within a column, no repeats
    tf = c.data
    tf = tf.astype(np.uint16) if (len(tf) == 0 or tf.max() < 65536) else tf.astype(np.uint32)
    counts = np.diff(c.indptr).astype(np.int64)
    return counts, c.indices.astype(np.uint16 if n <= 65536 else np.int32), tf


def _assemble(chunks: list[_Chunk], n_terms: int) -> Segment:
    """One segment from batches in document order; empties `chunks` as it goes."""
    paper_ids = np.concatenate([c.paper_ids for c in chunks] or [np.zeros(0, np.int64)])
    doc_len = np.concatenate([c.doc_len for c in chunks] or [np.zeros(0, np.int64)])
    published = np.concatenate([c.published for c in chunks] or [np.zeros(0, np.int32)])
    source = np.concatenate([c.source for c in chunks] or [np.zeros(0, np.int16)])
    fprints = np.concatenate([c.fingerprints for c in chunks] or [np.zeros(0, np.uint64)])
    df = np.zeros(n_terms, dtype=np.int64)
    for c in chunks:
        df[c.terms] += c.counts  # terms are distinct within a batch
    indptr = np.zeros(n_terms + 1, dtype=np.int64)
    np.cumsum(df, out=indptr[1:])
    del df
    nnz = int(indptr[-1])
    wide = any(c.tf.dtype == np.uint32 for c in chunks)
    indices = np.empty(nnz, dtype=np.int32)
    tf = np.empty(nnz, dtype=np.uint32 if wide else np.uint16)
    cursor = indptr[:-1].copy()  # next free slot per term
    offset = 0
    chunks.reverse()
    while chunks:
        c = chunks.pop()
        local_start = np.cumsum(c.counts) - c.counts
        pos = np.repeat(cursor[c.terms] - local_start, c.counts)
        pos += np.arange(len(c.docs), dtype=np.int64)
        local = c.docs.astype(np.int32)
        local += offset
        indices[pos] = local
        tf[pos] = c.tf
        cursor[c.terms] += c.counts
        offset += c.size
        del c, pos, local, local_start
    del cursor
    if len(paper_ids) > 1 and not (np.diff(paper_ids) > 0).all():
        order = np.argsort(paper_ids, kind="stable")
        paper_ids, published, source = paper_ids[order], published[order], source[order]
        fprints = fprints[order]
        if not (np.diff(paper_ids) > 0).all():
            raise ValueError("a segment cannot hold two versions of one paper")
        m = sp.csc_array((tf, indices, indptr), shape=(len(order), n_terms)).tocsr()[order]
        return _segment_from_csr(sp.csr_array(m), paper_ids, published, source, fprints)
    return Segment(
        paper_ids=paper_ids,
        doc_len=doc_len,
        published=published,
        source=source,
        fingerprints=fprints,
        indptr=indptr,
        indices=indices,
        tf=tf,
        alive=np.ones(len(paper_ids), dtype=bool),
    )


@dataclass(frozen=True, eq=False)
class Snapshot:
    """A consistent, read-only view: segments + exact corpus statistics."""

    segments: tuple[Segment, ...] = ()
    df: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    n_docs: int = 0
    total_len: int = 0
    average_idf: float = 0.0
    norms: tuple[np.ndarray, ...] = ()  # k1 * (1 - b + b * doc_len / avgdl) per segment
    all_alive: tuple[bool, ...] = ()  # per segment: no dead documents, skip the mask

    @property
    def avgdl(self) -> float:
        return self.total_len / self.n_docs if self.n_docs else 0.0

    def idf(self, tid: int) -> float:
        """BM25Okapi idf of a known term, floored like rank_bm25 (0 for absent terms)."""
        if tid >= len(self.df):
            return 0.0
        n = int(self.df[tid])
        if n == 0:
            return 0.0
        idf = math.log(self.n_docs - n + 0.5) - math.log(n + 0.5)
        if idf < 0:
            idf = EPSILON * self.average_idf
        return idf


def _finish(segments: tuple[Segment, ...], df: np.ndarray, n_docs: int, total_len: int) -> Snapshot:
    """Derive average_idf and the length norms from the counts."""
    present = df[df > 0]
    if n_docs and len(present):
        idfs = np.log(n_docs - present + 0.5) - np.log(present + 0.5)
        average_idf = float(idfs.sum()) / len(present)
    else:
        average_idf = 0.0
    avgdl = total_len / n_docs if n_docs else 1.0
    norms = tuple(
        K1 * (1 - B + B * s.doc_len / avgdl) if avgdl else np.full(s.size, K1 * (1 - B))
        for s in segments
    )
    all_alive = tuple(bool(s.alive.all()) for s in segments)
    return Snapshot(segments, df, n_docs, total_len, average_idf, norms, all_alive)


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
        index.snapshot = _finish(tuple(segments), df, n_docs, total_len)
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
            docs, scores = _positive_scores(seg, norm, weights, snap.avgdl, self.term_cache)
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
        """(total matches, best k paper ids, their scores): score desc, then paper id asc."""
        snap = self.snapshot
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
            docs, acc = _accumulate(seg, norm, weights)
            if docs is None:
                dense = acc
            else:
                dense = np.zeros(seg.size)
                dense[docs] = acc
            live = np.flatnonzero(seg.alive)
            out.update(zip(seg.paper_ids[live].tolist(), dense[live].tolist(), strict=True))
        return out

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

    def _chunk(self, enc: Encoded) -> _Chunk:
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
        return _Chunk(
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

        Each batch of BUILD_BATCH docs is turned into compact term-major postings right away
        (batch-local doc numbers, uint16 counts), so the token lists of only one batch are
        alive at a time; the batches are then scattered into the segment's final arrays,
        each batch freed as soon as it is copied. Peak memory is about two copies of the
        postings (6 bytes each), not the several int32/int64 matrices of a vstack + tocsc.
        """
        chunks: list[_Chunk] = []
        it = iter(docs)
        while part := list(itertools.islice(it, BUILD_BATCH)):
            chunks.append(self._chunk(encode(part)))
            del part
        return _assemble(chunks, len(self.vocab))

    def build(self, docs: Iterable[Doc]) -> int:
        """Replace the whole index with `docs` (distinct ids; ascending ids stream best)."""
        self.vocab.clear()
        self.sources.clear()
        return self._replace(self._build_segment(docs))

    def build_encoded(self, batches: Iterable[Encoded]) -> int:
        """`build` from batches encoded elsewhere (e.g. by worker processes), in doc order."""
        self.vocab.clear()
        self.sources.clear()
        return self._replace(_assemble([self._chunk(e) for e in batches], len(self.vocab)))

    def _replace(self, seg: Segment) -> int:
        df = np.zeros(len(self.vocab), dtype=np.int64)
        df[: seg.n_terms] = np.diff(seg.indptr)
        segments = (seg,) if seg.size else ()
        self.term_cache.clear()
        self.snapshot = _finish(segments, df, seg.size, int(seg.doc_len.sum()))
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
        self.snapshot = _finish(tuple(segments), df, n_docs, total_len)
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
        merged = _segment_from_csr(
            sp.csr_array(m),
            paper_ids[order],
            np.concatenate(pubs)[order],
            np.concatenate(srcs)[order],
            np.concatenate(fps)[order],
        )
        keep = [s for s in snap.segments if all(s is not w for w in which)]
        segments = [merged, *keep] if merged.size else keep
        segments.sort(key=lambda s: -s.size)
        self.snapshot = _finish(tuple(segments), snap.df, snap.n_docs, snap.total_len)
        self.term_cache.retain(segments)


def _widen(m: sp.csr_array, n_terms: int) -> sp.csr_array:
    return sp.csr_array((m.data, m.indices, m.indptr), shape=(m.shape[0], n_terms))


def _and(mask: np.ndarray | None, more: np.ndarray) -> np.ndarray:
    return more if mask is None else mask & more


class TermCache:
    """Score contributions `idf * (k1 + 1) * tf / (tf + norm)` of frequent terms.

    They depend on avgdl and the term's idf, which change with every add, so they cannot be
    stored in the segment; but between changes they are fixed, and the long postings of
    common words dominate query time. An entry is used only for the same postings array,
    the exact same avgdl and weight, so a stale entry is never used. Terms covering a large
    share of a segment are kept dense (one value per document) so summing them is a plain
    vector add.
    """

    def __init__(self, max_bytes: int = 512 << 20, min_postings: int = 20_000) -> None:
        self.max_bytes = max_bytes
        self.min_postings = min_postings
        self._entries: OrderedDict[tuple[int, int], tuple[np.ndarray, float, float, np.ndarray]]
        self._entries = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, seg: Segment, tid: int, avgdl: float, w: float) -> np.ndarray | None:
        key = (id(seg.indices), tid)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] is not seg.indices or entry[1:3] != (avgdl, w):
                return None
            self._entries.move_to_end(key)
            return entry[3]

    def put(self, seg: Segment, tid: int, avgdl: float, w: float, contrib: np.ndarray) -> None:
        if contrib.nbytes > self.max_bytes // 8:
            return
        key = (id(seg.indices), tid)
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old[3].nbytes
            self._entries[key] = (seg.indices, avgdl, w, contrib)
            self._bytes += contrib.nbytes
            while self._bytes > self.max_bytes and self._entries:
                _, (_, _, _, dropped) = self._entries.popitem(last=False)
                self._bytes -= dropped.nbytes

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def retain(self, segments: Sequence[Segment]) -> None:
        """Drop entries of segments that are gone (they would pin their postings in memory)."""
        keep = {id(s.indices) for s in segments}
        with self._lock:
            for key in [k for k in self._entries if k[0] not in keep]:
                self._bytes -= self._entries.pop(key)[3].nbytes


def _contribution(
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


def _accumulate(
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
        docs, part = _contribution(seg, norm, tid, w, avgdl, cache)
        if part is None:
            continue
        if docs is None:
            dense.append(part)
        else:
            sparse.append((docs, part))
    if not dense:
        if not sparse:
            return _EMPTY_I32, np.zeros(0)
        if len(sparse) == 1:
            return sparse[0]
    if dense:
        acc = dense[0].copy()
        for d in dense[1:]:
            acc += d
    else:
        acc = np.zeros(seg.size)
    for docs, part in sparse:
        np.add.at(acc, docs, part)  # a term's postings hold each document once
    return None, acc


def prewarm(index: BM25Index, n_terms: int = 32) -> None:
    """Fill the term cache for the most frequent terms (after a change, off the query path)."""
    snap = index.snapshot
    if not snap.n_docs or not len(snap.df):
        return
    top = np.argsort(snap.df)[::-1][:n_terms]
    for tid in top.tolist():
        if snap.df[tid] < index.term_cache.min_postings:
            break
        w = snap.idf(tid)
        if w:
            for seg, norm in zip(snap.segments, snap.norms, strict=True):
                _contribution(seg, norm, tid, w, snap.avgdl, index.term_cache)


def _positive_scores(
    seg: Segment,
    norm: np.ndarray,
    weights: Sequence[tuple[int, float]],
    avgdl: float,
    cache: TermCache | None,
) -> tuple[np.ndarray, np.ndarray]:
    """(local docs, scores) of the segment's documents scoring above zero."""
    docs, acc = _accumulate(seg, norm, weights, avgdl, cache)
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
