"""Segments: the immutable postings the index is made of, and how batches of papers become one.

A segment holds term->document postings (CSC: indptr per term, local doc indices, term
frequencies) plus per-document arrays (paper id, length, published day, source code), sorted
by paper id. Nothing derived is stored: raw term frequencies and document lengths only, so a
segment stays valid whatever the rest of the corpus does; only its `alive` mask changes
(copy-on-write) when a newer version of one of its papers arrives.

Building goes batch by batch: `encode` turns a batch of token lists into postings over
batch-local term ids (no shared state, so worker processes can do it), the index maps those
terms into its vocabulary (`Chunk`), and `assemble` scatters the batches into one segment.
A per-paper fingerprint (hash of its tokens and filter fields) lets the index skip updates
that change nothing it holds, such as new upvotes.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import scipy.sparse as sp

NO_DATE = 0  # `published` ordinal for papers without a date (real ordinals start at 1)
BUILD_BATCH = 50_000  # documents tokenized and encoded at a time while building


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
            return EMPTY_I32, EMPTY_TF
        s, e = self.indptr[tid], self.indptr[tid + 1]
        return self.indices[s:e], self.tf[s:e]

    def csc(self, n_terms: int) -> sp.csc_array:
        import scipy.sparse as sp  # only merges need it: searching stays scipy-free

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


EMPTY_I32 = np.zeros(0, dtype=np.int32)
EMPTY_TF = np.zeros(0, dtype=np.uint16)


def segment_from_csr(
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
class Chunk:
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
    import scipy.sparse as sp  # imported where building needs it (searching does not)

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


def assemble(chunks: list[Chunk], n_terms: int) -> Segment:
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
        import scipy.sparse as sp

        order = np.argsort(paper_ids, kind="stable")
        paper_ids, published, source = paper_ids[order], published[order], source[order]
        fprints = fprints[order]
        if not (np.diff(paper_ids) > 0).all():
            raise ValueError("a segment cannot hold two versions of one paper")
        m = sp.csc_array((tf, indices, indptr), shape=(len(order), n_terms)).tocsr()[order]
        return segment_from_csr(sp.csr_array(m), paper_ids, published, source, fprints)
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
