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
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import date

from bot.search import segments
from bot.search.acronyms import AcronymTable, Pair, definitions
from bot.search.documents import paper_tokens
from bot.search.segments import Doc, Encoded, encode
from bot.search.tokenizer import DEFAULT_TOKENIZER, Tokenizer
from storage.papers import IndexRow

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
    pairs = [d for _, t, a, _, _ in rows for d in definitions(f"{t}. {a}", _tokenizer)]
    docs = [Doc(i, paper_tokens(t, a, _tokenizer), p, src) for i, t, a, p, src in rows]
    return encode(docs), pairs


def pool(workers: int, tokenizer: Tokenizer) -> ProcessPoolExecutor:
    """A pool of `workers` spawned processes that die with this one."""
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
        initargs=(os.getpid(), tokenizer),
    )


def encoded_in_workers(
    rows: Iterable[IndexRow], executor: ProcessPoolExecutor, workers: int, acronyms: AcronymTable
) -> Iterator[Encoded]:
    """Batches of `rows` encoded by the pool, in order; a few batches in flight at most.
    The batches' acronym definitions are counted into `acronyms`."""
    pending: deque[Future[tuple[Encoded, list[Pair]]]] = deque()
    it = iter(rows)
    while batch := [
        (r.id, r.title, r.abstract, r.published, r.source)
        for r in itertools.islice(it, segments.BUILD_BATCH)
    ]:
        pending.append(executor.submit(encode_rows, batch))
        del batch
        if len(pending) > workers:
            encoded, pairs = pending.popleft().result()
            acronyms.add(pairs)
            yield encoded
    while pending:
        encoded, pairs = pending.popleft().result()
        acronyms.add(pairs)
        yield encoded
