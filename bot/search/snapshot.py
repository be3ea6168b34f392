"""Corpus statistics of one consistent view of the index, and BM25Okapi's idf over them.

Exactness. Scores equal `rank_bm25.BM25Okapi(token_lists).get_scores(query_tokens)` over the
live documents: k1=1.5, b=0.75, idf = log(N-n+0.5) - log(n+0.5), negative idfs replaced by
epsilon * average_idf (average over every term in the corpus, before flooring), query tokens
summed with repeats, unknown tokens adding 0. N, total length (so avgdl) and per-term document
frequencies (df) are counts over live documents, and idf/average_idf/length norms are derived
from them (`make_snapshot`) whenever the index changes.

One deliberate difference: when the average idf is not positive (a library of one or two
papers, or of near-duplicates), rank_bm25 gives every word an idf <= 0 and finds nothing;
then every term's idf is Lucene's log(1 + (N-n+0.5)/(n+0.5)) instead, positive and lower
for commoner words. Libraries with a positive average idf score exactly as rank_bm25.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from bot.search.segments import Segment

K1 = 1.5
B = 0.75
EPSILON = 0.25


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
        if self.average_idf <= 0:
            # rank_bm25 cannot rank here (tiny libraries: every idf and its floor <= 0, so
            # nothing scores above zero); Lucene's idf is positive and falls with df.
            return math.log1p((self.n_docs - n + 0.5) / (n + 0.5))
        idf = math.log(self.n_docs - n + 0.5) - math.log(n + 0.5)
        if idf < 0:
            idf = EPSILON * self.average_idf
        return idf


def make_snapshot(
    segments: tuple[Segment, ...], df: np.ndarray, n_docs: int, total_len: int
) -> Snapshot:
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
