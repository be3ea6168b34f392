"""The search API the Slack app and the CLI use: query validation, paging, and keeping the
in-memory index in step with the database.

The database is the source of truth. Every paper change bumps its `rev` (writers serialize, so
revs commit in order), which lets the engine follow changes made by any process with
`rev > last_seen`: `refresh()` applies them right away (the importer calls it after writing),
and `search()` also checks `max_rev` at most once per `refresh_interval` seconds, so papers
written by another replica show up within about a second.

Scores are exactly rank_bm25's BM25Okapi, quirks included: in a tiny library a word found
in half of the papers has idf 0 (no hits for it alone), and words in more than half get
epsilon * average idf, which in a large library with many rare words can outweigh a
moderately rare word. Papers are never deleted in storage; if that changes, deletions
need a rev-bumping tombstone for other replicas to see (the index already supports removal).
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from bot.search import persist, segments
from bot.search.index import BM25Index, prewarm
from bot.search.persist import StaleIndex
from bot.search.segments import Doc, Encoded, encode
from bot.search.tokenizer import tokenize
from storage import papers
from storage.db import Database

log = logging.getLogger(__name__)

TITLE_WEIGHT = 2  # title tokens are repeated this many times in a paper's BM25 token list
MAX_QUERY_CHARS = 500
MAX_LIMIT = 100
REFRESH_INTERVAL = 1.0
SAVE_EVERY = 500  # papers applied since the last save that trigger a background save
# Full builds of at least this many papers tokenize in BUILD_WORKERS worker processes
# (tokenizing is most of a build); smaller ones, and machines with one core, stay in-process.
PARALLEL_MIN_PAPERS = 50_000
BUILD_WORKERS = 2
# A saved index missing more new papers than this (and than a quarter of its size) is rebuilt
# rather than caught up: a catch-up holds all its papers' token lists at once, in one process.
CATCH_UP_MAX = 100_000


class QueryError(ValueError):
    """The query cannot be searched; the message is meant for the user."""


@dataclass(frozen=True)
class Hit:
    paper_id: int
    score: float


@dataclass(frozen=True)
class SearchPage:
    query: str
    terms: tuple[str, ...]  # distinct query tokens, for highlighting (see tokenize.token_spans)
    hits: tuple[Hit, ...]
    total: int  # documents with score > 0 that match the filters
    offset: int
    limit: int


def paper_tokens(title: str, abstract: str) -> list[str]:
    """A paper's BM25 token list: the title counts TITLE_WEIGHT times, then the abstract."""
    return tokenize(title) * TITLE_WEIGHT + tokenize(abstract or "")


def row_doc(row: papers.IndexRow) -> Doc:
    return Doc(row.id, paper_tokens(row.title, row.abstract), row.published, row.source)


def encode_rows(rows: list[tuple[int, str, str, date | None, str]]) -> Encoded:
    """Worker side of a parallel build: tokenize and encode a batch of papers."""
    return encode([Doc(i, paper_tokens(t, a), p, src) for i, t, a, p, src in rows])


def _encoded_in_workers(
    rows: Iterable[papers.IndexRow], pool: ProcessPoolExecutor, workers: int
) -> Iterator[Encoded]:
    """Batches of `rows` encoded by the pool, in order; a few batches in flight at most."""
    pending: deque[Future[Encoded]] = deque()
    it = iter(rows)
    while batch := [
        (r.id, r.title, r.abstract, r.published, r.source)
        for r in itertools.islice(it, segments.BUILD_BATCH)
    ]:
        pending.append(pool.submit(encode_rows, batch))
        del batch
        if len(pending) > workers:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def query_tokens(query: str) -> list[str]:
    """The tokens of a user query, or QueryError with a message saying what to change."""
    q = " ".join(query.split())
    if not q:
        raise QueryError("Type a few words to search for, e.g. `diffusion caching`.")
    if len(q) > MAX_QUERY_CHARS:
        raise QueryError(
            f"That query is {len(q):,} characters long; the limit is {MAX_QUERY_CHARS}. "
            "A few distinctive keywords work best."
        )
    tokens = tokenize(q)
    if not tokens:
        raise QueryError(
            f"“{q}” has only very common words (like “the” or “of”), which search ignores. "
            "Add a more specific word."
        )
    return tokens


class SearchEngine:
    """BM25 search over the papers in `db`; built lazily, kept current by rev catch-up."""

    def __init__(
        self,
        db: Database,
        index_dir: Path | None = None,
        *,
        refresh_interval: float = REFRESH_INTERVAL,
    ) -> None:
        self._db = db
        self._index_dir = Path(index_dir) if index_dir is not None else None
        self._refresh_interval = refresh_interval
        self._lock = threading.RLock()  # held while building or applying changes
        self._index: BM25Index | None = None
        self._last_rev = 0
        self._last_check = 0.0
        self._instance_id: str | None = None
        self._unsaved = 0  # papers applied since the index was last saved
        self._save_lock = threading.Lock()  # one writer of index_dir per engine
        self._saver: threading.Thread | None = None
        self._prewarmer: threading.Thread | None = None

    # ----- public API ---------------------------------------------------------------------

    def search(
        self,
        query: str,
        *,
        limit: int = 10,
        offset: int = 0,
        since: date | None = None,
        until: date | None = None,
        source: str | None = None,
    ) -> SearchPage:
        """One page of hits (score > 0), best first, ties by paper id."""
        tokens = query_tokens(query)
        if not 1 <= limit <= MAX_LIMIT:
            raise QueryError(f"Ask for between 1 and {MAX_LIMIT} results at a time.")
        if offset < 0:
            raise QueryError("The page offset cannot be negative.")
        if since and until and since > until:
            raise QueryError(f"The start date {since} is after the end date {until}.")
        index = self._ready()
        self._maybe_refresh()
        total, ids, scores = index.top(
            tokens, offset + limit, since=since, until=until, source=source
        )
        hits = tuple(
            Hit(int(i), float(s))
            for i, s in zip(ids[offset:].tolist(), scores[offset:].tolist(), strict=True)
        )
        return SearchPage(
            query=" ".join(query.split()),
            terms=tuple(dict.fromkeys(tokens)),
            hits=hits,
            total=total,
            offset=offset,
            limit=limit,
        )

    def refresh(self) -> int:
        """Apply papers changed in the database since the last look; returns how many were
        (re)indexed (rows whose indexed text and filter fields did not change are skipped)."""
        with self._lock:
            if self._index is None:
                return self._load_or_build()
            return self._catch_up()

    def warm(self) -> None:
        """Build (or load) the index now, so the first search is fast."""
        self._ready()

    def save(self) -> bool:
        """Persist the index to index_dir now (False when there is no index_dir)."""
        if self._index_dir is None:
            return False
        with self._lock:  # a consistent state + rev; the slow write happens outside
            index = self._ready()
            state, rev, unsaved = index.state(), self._last_rev, self._unsaved
        with self._save_lock:
            persist.save(
                state,
                self._index_dir,
                db_instance_id=self._db_instance_id(),
                rev=rev,
                title_weight=TITLE_WEIGHT,
            )
        with self._lock:
            self._unsaved -= unsaved
        return True

    @property
    def unsaved(self) -> int:
        """Papers applied to the index since it was last saved (0: the saved index is current)."""
        return self._unsaved

    @property
    def last_rev(self) -> int:
        return self._last_rev

    @property
    def size(self) -> int:
        return len(self._ready())

    # ----- internals ----------------------------------------------------------------------

    def _ready(self) -> BM25Index:
        index = self._index
        if index is None:
            with self._lock:
                if self._index is None:
                    self._load_or_build()
                index = self._index
        assert index is not None
        return index

    def _maybe_refresh(self) -> None:
        """Catch up with other processes' writes, at most once per refresh_interval."""
        if time.monotonic() - self._last_check < self._refresh_interval:
            return
        if not self._lock.acquire(blocking=False):
            return  # another thread is refreshing; search the current snapshot
        try:
            if time.monotonic() - self._last_check >= self._refresh_interval:
                try:
                    self._catch_up()
                except SQLAlchemyError as exc:
                    # Serve what we have; the next look is throttled like a successful one.
                    self._last_check = time.monotonic()
                    log.warning("search index could not catch up with the database: %s", exc)
        finally:
            self._lock.release()

    def _db_instance_id(self) -> str:
        if self._instance_id is None:
            self._instance_id = self._db.instance_id()
        return self._instance_id

    def _load_or_build(self) -> int:
        """Load the saved index if it provably fits the database; otherwise rebuild + save."""
        if self._index_dir is not None:
            try:
                return self._load()
            except StaleIndex as exc:
                log.info("search index in %s not used: %s; rebuilding", self._index_dir, exc)
        n = self._build()
        assert self._index is not None
        prewarm(self._index)
        if self._index_dir is not None:
            try:
                self.save()
            except OSError as exc:
                log.warning("could not save the search index to %s: %s", self._index_dir, exc)
        return n

    def _load(self) -> int:
        assert self._index_dir is not None
        started = time.perf_counter()
        index, manifest = persist.load(
            self._index_dir, db_instance_id=self._db_instance_id(), title_weight=TITLE_WEIGHT
        )
        with self._db.session() as s:
            db_rev, count_before = papers.max_rev(s), papers.count_papers(s)
        if manifest.rev > db_rev:
            raise StaleIndex(f"saved at rev {manifest.rev} but the database is at rev {db_rev}")
        if count_before - len(index) > max(CATCH_UP_MAX, len(index) // 4):
            raise StaleIndex(
                f"{count_before - len(index)} papers were added since it was saved "
                "(rebuilding beats catching up)"
            )
        self._index, self._last_rev, self._unsaved = index, manifest.rev, 0
        try:
            n = self._catch_up()
            # Papers are never deleted, so a fitting index holds at least every paper counted
            # before the catch-up and at most every paper counted after it.
            if len(index) < count_before:
                raise StaleIndex(f"holds {len(index)} papers, the database {count_before}")
            if len(index) > count_before:
                with self._db.session() as s:
                    count_after = papers.count_papers(s)
                if len(index) > count_after:
                    raise StaleIndex(f"holds {len(index)} papers, the database {count_after}")
        except BaseException:
            self._index, self._last_rev, self._unsaved = None, 0, 0
            raise
        prewarm(index)
        log.info(
            "search index loaded: %d papers (rev %d, %d caught up) in %.2fs",
            len(index),
            self._last_rev,
            n,
            time.perf_counter() - started,
        )
        return n

    def _prewarm_in_background(self) -> None:
        """Refill the term cache off the query path (queries meanwhile compute as needed)."""
        if self._prewarmer is not None and self._prewarmer.is_alive():
            return
        index = self._index
        if index is None:
            return
        self._prewarmer = threading.Thread(
            target=prewarm, args=(index,), name="search-prewarm", daemon=True
        )
        self._prewarmer.start()

    def _save_in_background(self) -> None:
        if self._index_dir is None or (self._saver is not None and self._saver.is_alive()):
            return

        def run() -> None:
            try:
                self.save()
            except Exception:
                log.exception("saving the search index failed")

        self._saver = threading.Thread(target=run, name="search-index-save", daemon=True)
        self._saver.start()

    def _build(self) -> int:
        started = time.perf_counter()
        index = BM25Index()
        workers = min(BUILD_WORKERS, os.cpu_count() or 1)
        with self._db.session() as s:
            # Read max_rev first: anything committed later has a higher rev and is re-read
            # by the next catch-up (replacing a paper is idempotent).
            rev = papers.max_rev(s)
            n = None
            if workers > 1 and papers.count_papers(s) >= PARALLEL_MIN_PAPERS:
                n = self._build_in_workers(index, papers.iter_index_rows(s, 0), workers)
            if n is None:
                n = index.build(row_doc(r) for r in papers.iter_index_rows(s, 0))
        self._index, self._last_rev, self._last_check = index, rev, time.monotonic()
        self._unsaved = n
        log.info("search index built: %d papers in %.1fs", n, time.perf_counter() - started)
        return n

    @staticmethod
    def _build_in_workers(
        index: BM25Index, rows: Iterable[papers.IndexRow], workers: int
    ) -> int | None:
        """Build with tokenizing in worker processes; None if they could not run.

        Workers come from a fork server (a clean single-threaded process), never by forking
        this one, which may be a threaded server. Term ids are still assigned here, in order.
        As with any multiprocessing start method but fork, the fork server imports the main
        module: a script that builds must do so under `if __name__ == "__main__"` (the
        `paperbot` command and `python -m` entry points do); if the workers die, the build
        falls back to this process.
        """
        try:
            ctx = multiprocessing.get_context("forkserver")
            with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
                return index.build_encoded(_encoded_in_workers(rows, pool, workers))
        except (BrokenProcessPool, OSError) as exc:
            log.warning(
                "building the search index in worker processes failed (%s); "
                "building in this process",
                exc,
            )
            return None

    def _catch_up(self) -> int:
        assert self._index is not None
        with self._db.session() as s:
            rows: Iterable[papers.IndexRow] = []
            if papers.max_rev(s) > self._last_rev:
                rows = list(papers.iter_index_rows(s, self._last_rev))
        self._last_check = time.monotonic()
        if not rows:
            return 0
        n = self._index.apply(row_doc(r) for r in rows)
        self._last_rev = max(self._last_rev, *(r.rev for r in rows))
        self._prewarm_in_background()  # common words' cached scores depend on N and avgdl
        self._unsaved += n
        if self._unsaved >= SAVE_EVERY:
            self._save_in_background()
        log.debug("search index caught up to rev %d (%d papers)", self._last_rev, n)
        return n
