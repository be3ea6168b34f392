"""A bounded cache of frequent terms' per-posting score contributions (see TermCache)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from bot.search.segments import Segment

IMPACT_LIST = 1 << 13  # at most this many documents per impact list (12 bytes each)


class Impacts(NamedTuple):
    """A term's documents with the largest contributions, best first: `docs` (local, int32)
    and `values` (float64, descending); `complete` when every posting is listed, else every
    unlisted document's contribution is at most values[-1] (equal values may be cut)."""

    docs: np.ndarray
    values: np.ndarray
    complete: bool

    @property
    def nbytes(self) -> int:
        return self.docs.nbytes + self.values.nbytes


def impact_list(
    postings: np.ndarray, values: np.ndarray, dense: bool, limit: int | None = None
) -> Impacts:
    """A term's documents with the largest contributions, best first: every posting when
    there are at most `limit`, else those at or above a threshold taken from a strided
    sample (about half of `limit`, at most `limit`). `values` are aligned with `postings`,
    or dense over the segment (0.0 where absent). One pass over the values and a sort of
    the kept part: cheap enough for a term's first query."""
    limit = IMPACT_LIST if limit is None else limit
    n = len(postings)
    if n <= limit:
        docs = postings
        vals = values[postings] if dense else values
        order = np.argsort(-vals)
        return Impacts(docs[order].astype(np.int32), vals[order], True)
    own = values[postings] if dense else values
    sample = own[:: max(1, n // 4096)]
    keep = max(1, len(sample) * limit // (2 * n))
    threshold = np.partition(sample, len(sample) - keep)[len(sample) - keep]
    sel = np.flatnonzero(values >= threshold)  # dense: absent documents are 0.0, below it
    if len(sel) > limit:  # an unlucky sample: keep the best `limit`
        sel = sel[np.argpartition(values[sel], len(sel) - limit)[len(sel) - limit :]]
    vals = values[sel]
    order = np.argsort(-vals)
    docs = sel if dense else postings[sel]
    return Impacts(docs[order].astype(np.int32), vals[order], False)


def presence_bits(docs: np.ndarray, size: int) -> np.ndarray:
    """`docs` (local documents) as packed bits over a segment of `size` documents."""
    mask = np.zeros(size, dtype=bool)
    mask[docs] = True
    return np.packbits(mask)


_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def count_bits(bits: np.ndarray) -> int:
    """Set bits in a packed uint8 array (np.bitwise_count where numpy has it, >= 2.0)."""
    counter = getattr(np, "bitwise_count", None)
    if counter is not None:
        return int(counter(bits).sum(dtype=np.int64))
    return int(_POPCOUNT[bits].sum(dtype=np.int64))


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
        # Pruning's extras (see pruning): each cached term's largest contribution, and which
        # documents a densely cached term occurs in (independent of avgdl and weight).
        self._bounds: dict[tuple[int, int], tuple[np.ndarray, float, float, float]] = {}
        self._presence: OrderedDict[tuple[int, int], tuple[np.ndarray, np.ndarray]]
        self._presence = OrderedDict()
        self._presence_bytes = 0
        # Impact lists (see `impacts`): a term's best documents, by contribution, descending.
        self._impacts: OrderedDict[tuple[int, int], tuple[np.ndarray, float, float, Impacts]]
        self._impacts = OrderedDict()
        self._impact_bytes = 0

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

    def bound(self, seg: Segment, tid: int, avgdl: float, w: float, contrib: np.ndarray) -> float:
        """The largest of a term's contributions `contrib` (computed once per avgdl and
        weight for terms long enough to be cached; short ones are cheap to scan)."""
        if len(contrib) < self.min_postings:
            return float(contrib.max())
        key = (id(seg.indices), tid)
        with self._lock:
            entry = self._bounds.get(key)
        if entry is not None and entry[0] is seg.indices and entry[1:3] == (avgdl, w):
            return entry[3]
        value = float(contrib.max())
        with self._lock:
            self._bounds[key] = (seg.indices, avgdl, w, value)
        return value

    def presence(self, seg: Segment, tid: int, postings: np.ndarray) -> np.ndarray:
        """The documents in a term's `postings` as bits over the segment (np.packbits
        order, 1/8 of a bool mask): a query's matches are counted with ORs of these
        instead of scatters. Kept within a quarter of the cache's budget (LRU)."""
        key = (id(seg.indices), tid)
        with self._lock:
            entry = self._presence.get(key)
            if entry is not None and entry[0] is seg.indices:
                self._presence.move_to_end(key)
                return entry[1]
        bits = presence_bits(postings, seg.size)
        with self._lock:
            old = self._presence.pop(key, None)
            if old is not None:
                self._presence_bytes -= old[1].nbytes
            self._presence[key] = (seg.indices, bits)
            self._presence_bytes += bits.nbytes
            while self._presence_bytes > self.max_bytes // 4 and self._presence:
                _, (_, dropped) = self._presence.popitem(last=False)
                self._presence_bytes -= dropped.nbytes
        return bits

    def impacts(
        self,
        seg: Segment,
        tid: int,
        avgdl: float,
        w: float,
        postings: np.ndarray,
        values: np.ndarray,
        dense: bool,
    ) -> Impacts:
        """The term's impact list (see `impact_list`) for these contributions, computed
        once per avgdl and weight and kept within a quarter of the cache's budget (LRU)."""
        key = (id(seg.indices), tid)
        with self._lock:
            entry = self._impacts.get(key)
            if entry is not None and entry[0] is seg.indices and entry[1:3] == (avgdl, w):
                self._impacts.move_to_end(key)
                return entry[3]
        lst = impact_list(postings, values, dense)
        with self._lock:
            old = self._impacts.pop(key, None)
            if old is not None:
                self._impact_bytes -= old[3].nbytes
            self._impacts[key] = (seg.indices, avgdl, w, lst)
            self._impact_bytes += lst.nbytes
            while self._impact_bytes > self.max_bytes // 4 and self._impacts:
                _, (_, _, _, dropped) = self._impacts.popitem(last=False)
                self._impact_bytes -= dropped.nbytes
        return lst

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0
            self._bounds.clear()
            self._presence.clear()
            self._presence_bytes = 0
            self._impacts.clear()
            self._impact_bytes = 0

    def retain(self, segments: Sequence[Segment]) -> None:
        """Drop entries of segments that are gone (they would pin their postings in memory)."""
        keep = {id(s.indices) for s in segments}
        with self._lock:
            for key in [k for k in self._entries if k[0] not in keep]:
                self._bytes -= self._entries.pop(key)[3].nbytes
            for key in [k for k in self._bounds if k[0] not in keep]:
                del self._bounds[key]
            for key in [k for k in self._presence if k[0] not in keep]:
                self._presence_bytes -= self._presence.pop(key)[1].nbytes
            for key in [k for k in self._impacts if k[0] not in keep]:
                self._impact_bytes -= self._impacts.pop(key)[3].nbytes
