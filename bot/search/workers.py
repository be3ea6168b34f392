"""Worker processes that tokenize and encode large index builds, and never outlive their parent.

Tokenizing is most of a build, so builds of many papers spread it over a few processes. They
are started with "spawn" (fork + exec: a clean process, safe from a threaded server) and are
direct children of the building process. When that process dies, even by SIGKILL, its pool
workers would otherwise block forever on their task pipe (each holds both ends of it) and
keep their memory (300+ MB each at 200k papers); so on Linux each worker asks the kernel for
SIGKILL when its parent goes (prctl PR_SET_PDEATHSIG), and everywhere a watchdog thread exits
the worker once its parent pid changes. (The former "forkserver" start method also left the
fork server process behind: the workers held its liveness pipe open.)
"""

from __future__ import annotations

import ctypes
import itertools
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from bot.search import segments
from bot.search.acronyms import AcronymTable, Pair, definitions
from bot.search.documents import paper_tokens
from bot.search.segments import Doc, Encoded, encode
from bot.search.tokenizer import DEFAULT_TOKENIZER, Tokenizer
from storage.search_reads import IndexRow

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
WATCH_INTERVAL = 0.5  # seconds between the watchdog's looks at the parent pid

Row = tuple[int, str, str, date | None, str]

_tokenizer: Tokenizer = DEFAULT_TOKENIZER  # set per worker by _init_worker


def die_with_parent(parent_pid: int) -> None:
    """Make this process exit when `parent_pid` (its parent) dies, however it dies."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
                log.warning("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
        except (OSError, AttributeError) as exc:
            log.warning("prctl is not available (%s); relying on the parent watchdog", exc)
    if os.getppid() != parent_pid:  # the parent died before the request took effect
        os._exit(1)
    threading.Thread(
        target=_watch_parent, args=(parent_pid,), name="parent-watchdog", daemon=True
    ).start()


def _watch_parent(parent_pid: int) -> None:
    """Exit as soon as this process is re-parented (its parent died)."""
    while True:
        time.sleep(WATCH_INTERVAL)
        if os.getppid() != parent_pid:
            os._exit(1)


def _init_worker(parent_pid: int, tokenizer: Tokenizer) -> None:
    die_with_parent(parent_pid)
    global _tokenizer
    _tokenizer = tokenizer


def encode_rows(rows: list[Row]) -> tuple[Encoded, list[Pair]]:
    """Worker side of a parallel build: tokenize and encode a batch of papers, and find
    their acronym definitions (one entry per paper and pair)."""
    return encode_rows_with(rows, _tokenizer)


def encode_rows_with(rows: list[Row], tokenizer: Tokenizer) -> tuple[Encoded, list[Pair]]:
    """encode_rows with a given tokenizer (in this process)."""
    pairs = [d for _, t, a, _, _ in rows for d in definitions(f"{t}. {a}", tokenizer)]
    docs = [Doc(i, paper_tokens(t, a, tokenizer), p, src) for i, t, a, p, src in rows]
    return encode(docs), pairs


def pool(workers: int, tokenizer: Tokenizer) -> ProcessPoolExecutor:
    """A pool of `workers` spawned processes that die with this one."""
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
        initargs=(os.getpid(), tokenizer),
    )


# ----- encoding papers while an import writes them ---------------------------------------

PREBUILD_BATCH = 20_000  # papers per batch the import's encoding workers read and encode
PREBUILD_WORKERS = 2  # one while the import writes (it has the other core), all after
PREBUILD_AHEAD = 2  # batches given to the first worker at a time while the import writes

_databases: dict[str, Any] = {}  # url -> Database, per worker process


class PrebuildFailed(RuntimeError):
    """A batch encoded during the import could not be had (its worker died)."""


Versions = tuple[np.ndarray, np.ndarray]  # (ids, revs) of the papers a batch holds


def encode_stored(url: str, ranges: list[tuple[int, int]]) -> tuple[Versions, Encoded, list[Pair]]:
    """Worker side of a Prebuild: read the papers with first <= id <= last for each range
    from the database at `url` (as stored: what a build reads) and encode them; also which
    versions those were (ids and revs)."""
    from storage.db import Database
    from storage.papers import iter_index_rows_between

    db = _databases.get(url)
    if db is None:
        db = _databases[url] = Database(url)
    with db.session() as s:
        rows = [r for a, b in ranges for r in iter_index_rows_between(s, a, b)]
    encoded, pairs = encode_rows([(r.id, r.title, r.abstract, r.published, r.source) for r in rows])
    ids = np.fromiter((r.id for r in rows), dtype=np.int64, count=len(rows))
    revs = np.fromiter((r.rev for r in rows), dtype=np.int64, count=len(rows))
    return (ids, revs), encoded, pairs


@dataclass(frozen=True, eq=False)
class Prebuilt:
    """A batch of papers being encoded for the index: the ids the importer committed, and
    the worker's (versions read, Encoded, acronym definitions)."""

    paper_ids: np.ndarray  # int64, ascending
    future: Future[tuple[Versions, Encoded, list[Pair]]]

    def result(self) -> tuple[Versions, Encoded, list[Pair]]:
        try:
            return self.future.result()
        except Exception as exc:  # BrokenProcessPool, a cancelled batch, ...
            raise PrebuildFailed(f"a batch encoded during the import was lost: {exc!r}") from exc


class Prebuild:
    """Index batches encoded by worker processes while an import is still writing.

    Why: the writing pass of a large import keeps one core busy with the database, and the
    full index build that follows spends most of its time tokenizing. So the importer tells
    this object the ids of each committed batch of new papers, and a worker reads those
    papers back from the database as stored and tokenizes and encodes them meanwhile, on
    the core the import leaves idle; batches it has not reached wait here (as id ranges).
    When the import is done (finish), a second worker starts and the two share what is
    left. The import hands it to its caller (ImportReport.prebuilt), which passes it to the
    index build (SearchEngine.ensure_saved or warm); that build uses a batch only where
    the papers it reads now have exactly the ids and revs the worker read (every change of
    a paper bumps its rev), in id order among the papers it encodes itself, so the index is
    exactly the one a build from scratch makes. Only ids travel to the workers and only
    encoded postings come back: the importer holds no text for them.
    """

    def __init__(
        self,
        url: str,
        tokenizer: Tokenizer = DEFAULT_TOKENIZER,
        *,
        batch: int | None = None,
        workers: int | None = None,
    ) -> None:
        self.url = url
        self.tokenizer = tokenizer
        self._batch = PREBUILD_BATCH if batch is None else batch
        self._workers = PREBUILD_WORKERS if workers is None else workers
        self._ranges: list[tuple[int, int]] = []  # the batch being gathered
        self._ids: list[np.ndarray] = []
        self._pending = 0
        self._waiting: deque[tuple[list[tuple[int, int]], np.ndarray]] = deque()
        self._pools: list[ProcessPoolExecutor] = []
        self.batches: list[Prebuilt] = []  # sent to a worker, in id order
        self.closed = False
        self.sent = 0  # papers sent to the workers

    def add(self, ids: Sequence[int]) -> None:
        """The ids of papers one transaction inserted and committed (ascending, above every
        id added before: papers go in above the largest id, one writer at a time, so no
        other paper has an id between them unless the ids skip it)."""
        if self.closed or not ids:
            return
        arr = np.asarray(ids, dtype=np.int64)
        if len(arr) > 1 and not (np.diff(arr) > 0).all():
            raise ValueError("inserted ids must ascend")
        breaks = np.flatnonzero(np.diff(arr) != 1) + 1  # where the ids skip some
        starts = np.concatenate([[0], breaks])
        ends = np.concatenate([breaks, [len(arr)]]) - 1
        self._ranges.extend((int(arr[a]), int(arr[z])) for a, z in zip(starts, ends, strict=True))
        self._ids.append(arr)
        self._pending += len(arr)
        if self._pending >= self._batch:
            self._gathered()
        self._send(ahead=PREBUILD_AHEAD, pools=1)

    def finish(self) -> None:
        """The import is done: every worker shares what is left (they go on meanwhile)."""
        if self.closed:
            return
        self._gathered()
        self._send(ahead=None, pools=self._workers)

    def _gathered(self) -> None:
        if self._ranges:
            self._waiting.append((self._ranges, np.concatenate(self._ids)))
        self._ranges, self._ids, self._pending = [], [], 0

    def _send(self, ahead: int | None, pools: int) -> None:
        """Give waiting batches to the workers: while the import writes, keep the first
        worker `ahead` batches busy; at the end, give every batch out, round robin."""
        from concurrent.futures.process import BrokenProcessPool

        try:
            while len(self._pools) < min(pools, max(len(self._waiting), 1)) and self._waiting:
                self._pools.append(pool(1, self.tokenizer))
            k = 1  # the first worker may still be busy with what it was given
            while self._waiting:
                if ahead is not None:
                    busy = sum(not b.future.done() for b in self.batches)
                    if busy >= ahead:
                        return
                    target = self._pools[0]
                else:
                    target = self._pools[k % len(self._pools)]
                    k += 1
                ranges, ids = self._waiting.popleft()
                future = target.submit(encode_stored, self.url, ranges)
                self.batches.append(Prebuilt(ids, future))
                self.sent += len(ids)
        except (BrokenProcessPool, OSError, RuntimeError) as exc:
            log.warning("encoding imported papers in workers failed (%s); the build will", exc)
            self.close()

    def close(self) -> None:
        """Stop the workers and drop every batch."""
        self.closed = True
        self._ranges, self._ids, self._waiting = [], [], deque()
        self.batches = []
        pools, self._pools = self._pools, []
        for p in pools:
            p.shutdown(wait=False, cancel_futures=True)


def row_batches(rows: Iterable[IndexRow], size: int = segments.BUILD_BATCH) -> Iterator[list[Row]]:
    it = iter(rows)
    while batch := [
        (r.id, r.title, r.abstract, r.published, r.source) for r in itertools.islice(it, size)
    ]:
        yield batch


@dataclass(frozen=True, eq=False)
class _Planned:
    """A prebuilt batch at its place in a build: the versions the build reads there."""

    batch: Prebuilt
    revs: np.ndarray
    read: Callable[[], Iterable[IndexRow]]  # the batch's papers as stored now

    def result(self, tokenizer: Tokenizer) -> tuple[Encoded, list[Pair]]:
        (ids, revs), encoded, pairs = self.batch.result()
        if not (np.array_equal(ids, self.batch.paper_ids) and np.array_equal(revs, self.revs)):
            # changed since the worker read it: encode what the build reads (rare)
            rows = [(r.id, r.title, r.abstract, r.published, r.source) for r in self.read()]
            return encode_rows_with(rows, tokenizer)
        return encoded, pairs


def with_prebuilt(
    ids: Iterable[int],
    revs: Iterable[int],
    prebuilt: Iterable[Prebuilt],
    read: Callable[[int, int], Iterable[IndexRow]],
) -> tuple[Iterator[_Planned | list[Row]], int]:
    """A build's work in id order: the prebuilt batches whose papers are all still there
    (`ids`, `revs`: every paper now, in id order), and row batches read with
    `read(first_id, last_id)` for the papers between them (lazily, one at a time); and how
    many papers those are. A prebuilt batch whose papers changed since its worker read them
    is encoded again from what `read` gives (see _Planned)."""
    all_ids = np.fromiter(ids, dtype=np.int64)
    all_revs = np.fromiter(revs, dtype=np.int64)
    parts: list[tuple[int, int] | _Planned] = []
    pos = left = 0
    for b in sorted((b for b in prebuilt if len(b.paper_ids)), key=lambda b: b.paper_ids[0]):
        at = int(np.searchsorted(all_ids, b.paper_ids[0]))
        end = at + len(b.paper_ids)
        if at < pos or end > len(all_ids) or not np.array_equal(all_ids[at:end], b.paper_ids):
            continue
        if at > pos:
            parts.append((pos, at))
            left += at - pos
        first, last = int(b.paper_ids[0]), int(b.paper_ids[-1])
        parts.append(_Planned(b, all_revs[at:end], lambda a=first, z=last: read(a, z)))
        pos = end
    if pos < len(all_ids):
        parts.append((pos, len(all_ids)))
        left += len(all_ids) - pos

    def items() -> Iterator[_Planned | list[Row]]:
        for part in parts:
            if isinstance(part, _Planned):
                yield part
            else:
                a, z = part
                yield from row_batches(read(int(all_ids[a]), int(all_ids[z - 1])))

    return items(), left


def encode_in_order(
    items: Iterable[_Planned | list[Row]],
    executor: ProcessPoolExecutor | None,
    workers: int,
    acronyms: AcronymTable,
    tokenizer: Tokenizer = DEFAULT_TOKENIZER,
) -> Iterator[Encoded]:
    """Encoded batches of `items` in order: prebuilt ones as they are, row batches encoded
    by `executor` (a few in flight at most) or, without one, in this process. The batches'
    acronym definitions are counted into `acronyms`, in the same order."""
    pending: deque[_Planned | Future[tuple[Encoded, list[Pair]]]] = deque()

    def ready(item: _Planned | Future[tuple[Encoded, list[Pair]]]) -> Encoded:
        encoded, pairs = item.result(tokenizer) if isinstance(item, _Planned) else item.result()
        acronyms.add(pairs)
        return encoded

    for item in items:
        if isinstance(item, _Planned):
            pending.append(item)
        elif executor is None:
            while pending:
                yield ready(pending.popleft())
            encoded, pairs = encode_rows_with(item, tokenizer)
            acronyms.add(pairs)
            yield encoded
            continue
        else:
            pending.append(executor.submit(encode_rows, item))
        while sum(isinstance(p, Future) for p in pending) > workers:
            yield ready(pending.popleft())
    while pending:
        yield ready(pending.popleft())
