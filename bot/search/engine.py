"""The search API the Slack app and the CLI use: query validation, paging, and keeping the
in-memory index in step with the database.

The database is the source of truth. Every paper change bumps its `rev` (writers serialize, so
revs commit in order), which lets the engine follow changes made by any process with
`rev > last_seen`. Once the index is loaded, one background thread per engine looks at
`max(rev)` every `refresh_interval` seconds (1 s by default) and applies what changed, so
papers written by another replica show up within about a second; searches never wait for
a catch-up, they rank against the current in-memory snapshot. `refresh()` applies changes
right away, synchronously (the importer and the digest call it after writing). `close()`
stops the thread.

Scores are exactly rank_bm25's BM25Okapi, quirks included: a word found in exactly half of
the papers has idf 0 (no hits for it alone), and words in more than half get epsilon *
average idf, which in a large library with many rare words can outweigh a moderately rare
word. The exception is a library whose average idf is not positive (one or two papers),
where rank_bm25 finds nothing: there every idf is Lucene's positive one (see snapshot.py).
Papers are never deleted in storage; if that changes, deletions
need a rev-bumping tombstone for other replicas to see (the index already supports removal).
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.search import persist, rerank
from bot.search.acronyms import AcronymTable, definitions
from bot.search.documents import TITLE_WEIGHT, paper_tokens, row_doc
from bot.search.index import BM25Index, prewarm
from bot.search.limits import MAX_LIMIT, MAX_QUERY_CHARS
from bot.search.persist import StaleIndex
from bot.search.segments import Doc
from bot.search.tokenizer import DEFAULT_TOKENIZER, Tokenizer
from storage.search_reads import DatabaseReads, IndexRow, PaperReads

if TYPE_CHECKING:
    from bot.search.workers import Prebuild
    from storage import papers
    from storage.db import Database
else:

    class _StoragePapers:
        """`storage.papers`, imported on first use: it loads SQLAlchemy and the ORM models,
        which only a build needs (`_build` reads through it); searching a saved index reads
        through PaperReads instead, so `paperbot search` can skip SQLAlchemy altogether."""

        def __getattr__(self, name: str) -> Any:
            from storage import papers as module

            return getattr(module, name)

    papers = _StoragePapers()

__all__ = [
    "MAX_LIMIT",
    "MAX_QUERY_CHARS",
    "TITLE_WEIGHT",
    "Hit",
    "QueryError",
    "SearchEngine",
    "SearchPage",
    "paper_tokens",
    "query_tokens",
]

log = logging.getLogger(__name__)

REFRESH_INTERVAL = 1.0
MIN_REFRESH_INTERVAL = 0.01  # the background refresher never spins faster than this
SAVE_EVERY = 500  # papers applied since the last save that trigger a background save
# Full builds of at least this many papers tokenize in BUILD_WORKERS worker processes
# (tokenizing is most of a build); smaller ones, and machines with one core, stay in-process.
PARALLEL_MIN_PAPERS = 50_000
BUILD_WORKERS = 2
# A saved index missing more new papers than this (and than a quarter of its size) is rebuilt
# rather than caught up: a catch-up holds all its papers' token lists at once, in one process.
CATCH_UP_MAX = 100_000
_SHOUTED = re.compile(r"\b\w*[A-Z]\w*[A-Z]\w*")  # words with two capitals: "EM", "RLHF"
TEXT_CACHE = 8192  # papers whose tokens the second stage keeps (about 20 MB)


class QueryError(ValueError):
    """The query cannot be searched; the message is meant for the user."""


@dataclass(frozen=True)
class Hit:
    paper_id: int
    score: float


@dataclass(frozen=True)
class Explained:
    """Why a paper ranked where it did (`paperbot search --explain`)."""

    paper_id: int
    first_stage_rank: int  # 1-based rank by BM25 alone
    bm25: float
    features: rerank.Features


@dataclass(frozen=True)
class SearchPage:
    query: str
    terms: tuple[str, ...]  # distinct query tokens, for highlighting (see tokenizer.token_spans)
    hits: tuple[Hit, ...]
    total: int  # documents with score > 0 that match the filters
    offset: int
    limit: int
    expanded: tuple[str, ...] = ()  # acronyms the query was widened with ("rlhf = …")
    explained: tuple[Explained, ...] = ()  # per hit, when asked for


def query_tokens(query: str, tokenizer: Tokenizer = DEFAULT_TOKENIZER) -> list[str]:
    """The tokens of a user query, or QueryError with a message saying what to change."""
    q = " ".join(query.split())
    if not q:
        raise QueryError("Type a few words to search for, e.g. `diffusion caching`.")
    if len(q) > MAX_QUERY_CHARS:
        raise QueryError(
            f"That query is {len(q):,} characters long; the limit is {MAX_QUERY_CHARS}. "
            "A few distinctive keywords work best."
        )
    tokens = tokenizer.tokenize(q)
    if not tokens:
        raise QueryError(
            f"“{q}” has only very common words (like “the” or “of”), which search ignores. "
            "Add a more specific word."
        )
    return tokens


def _refresh_loop(
    ref: weakref.ReferenceType[SearchEngine], stop: threading.Event, interval: float
) -> None:
    """The background refresher: catch up every `interval` seconds until stopped.

    It holds the engine only weakly between looks, so an engine dropped without close()
    is still garbage-collected and its thread ends.
    """
    failing = False
    while not stop.wait(interval):
        engine = ref()
        if engine is None:
            return
        try:
            engine._background_catch_up()
            if failing:
                log.info("search index caught up with the database again")
            failing = False
        except engine._reads.errors as exc:
            # Keep serving what we have; say so once, not every second.
            (log.debug if failing else log.warning)(
                "search index could not catch up with the database: %s", exc
            )
            failing = True
        except Exception:
            log.exception("search index catch-up failed")
        del engine


class SearchEngine:
    """BM25 search over the papers in `db`; built lazily, kept current by rev catch-up.

    `db` is a Database, or a read-only PaperReads (storage.search_reads.SqlitePapers, for
    `paperbot search`): such an engine loads and catches up a saved index, ranks and reads
    papers exactly as the other, but cannot build one (it raises StaleIndex instead)."""

    def __init__(
        self,
        db: Database | PaperReads,
        index_dir: Path | None = None,
        *,
        refresh_interval: float | None = REFRESH_INTERVAL,
        tokenizer: Tokenizer | None = None,
        parallel_min_papers: int | None = None,
        build_workers: int | None = None,
    ) -> None:
        """`refresh_interval`: seconds between background looks at the database (None: no
        background refresher, only explicit refresh()). `parallel_min_papers` and
        `build_workers` override PARALLEL_MIN_PAPERS and BUILD_WORKERS for this engine."""
        # Every read but a build's goes through `_reads`; `_db` (None when read-only) builds.
        if isinstance(db, PaperReads):
            self._db: Database | None = None
            self._reads: PaperReads = db
        else:
            self._db, self._reads = db, DatabaseReads(db)
        self._index_dir = Path(index_dir) if index_dir is not None else None
        self._refresh_interval = (
            None if refresh_interval is None else max(refresh_interval, MIN_REFRESH_INTERVAL)
        )
        self._tokenizer = tokenizer or DEFAULT_TOKENIZER
        self._parallel_min_papers = parallel_min_papers
        self._build_workers = build_workers
        self._lock = threading.RLock()  # held while building or applying changes
        self._index: BM25Index | None = None
        self._acronyms = AcronymTable()
        self._text_cache: OrderedDict[int, rerank.PaperText] = OrderedDict()
        self._text_lock = threading.Lock()
        self._text_generation = 0  # bumped when papers change: a read that raced isn't cached
        self._last_rev = 0
        self._instance_id: str | None = None
        self._unsaved = 0  # papers applied since the index was last saved
        self._saved_rev: int | None = None  # rev of the index last saved or loaded
        self._saves = 0
        self._save_lock = threading.Lock()  # one writer of index_dir per engine
        self._saver: threading.Thread | None = None
        self._prewarmer: threading.Thread | None = None
        self._stop = threading.Event()
        self._refresher: threading.Thread | None = None

    # ----- public API ---------------------------------------------------------------------

    @property
    def tokenizer(self) -> Tokenizer:
        return self._tokenizer

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
        """One page of hits (score > 0), best first, ties by paper id.

        Ranks against the current snapshot: never waits for a catch-up (the background
        refresher applies other processes' writes)."""
        tokens = query_tokens(query, self._tokenizer)
        self._check_page(limit, offset, since, until)
        index = self._ready()
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

    def ranked(
        self,
        query: str,
        *,
        limit: int = 10,
        offset: int = 0,
        since: date | None = None,
        until: date | None = None,
        source: str | None = None,
        explain: bool = False,
    ) -> SearchPage:
        """What people see: BM25's top rerank.DEPTH (query widened with learned acronyms),
        re-ordered by the second stage (see `rerank`), then paged. `search` is the first
        stage alone."""
        tokens = query_tokens(query, self._tokenizer)
        self._check_page(limit, offset, since, until)
        index = self._ready()
        snap, vocab = index.snapshot, index.vocab

        def idf(term: str) -> float:
            tid = vocab.get(term)
            return 0.0 if tid is None else snap.idf(tid)

        shouted = frozenset(
            t for word in _SHOUTED.findall(query) for t in self._tokenizer.tokenize(word)
        )
        plan = rerank.plan_query(tokens, self._acronyms, idf, shouted)
        depth = max(rerank.DEPTH, offset + limit)
        total, ids, scores = index.top(
            list(plan.first_stage), depth, since=since, until=until, source=source
        )
        candidates = list(zip(ids.tolist(), scores.tolist(), strict=True))
        texts = self._texts([pid for pid, _ in candidates])
        order = rerank.rerank(plan, [pid for pid, _ in candidates], texts, snap.avgdl)
        order = order[offset : offset + limit]
        explained: tuple[Explained, ...] = ()
        if explain:
            first = {pid: (i + 1, s) for i, (pid, s) in enumerate(candidates)}
            explained = tuple(
                Explained(pid, first[pid][0], first[pid][1], f) for pid, _, f in order
            )
        return SearchPage(
            query=" ".join(query.split()),
            terms=plan.terms,
            hits=tuple(Hit(pid, score) for pid, score, _ in order),
            total=total,
            offset=offset,
            limit=limit,
            expanded=plan.expanded,
            explained=explained,
        )

    def _texts(self, ids: list[int]) -> dict[int, rerank.PaperText]:
        """The candidates' tokenized titles and abstracts: from the cache, the rest read
        from the database (two columns) and tokenized once."""
        cache = self._text_cache
        found: dict[int, rerank.PaperText] = {}
        missing = []
        with self._text_lock:
            for pid in ids:
                hit = cache.get(pid)
                if hit is None:
                    missing.append(pid)
                else:
                    cache.move_to_end(pid)
                    found[pid] = hit
        if missing:
            generation = self._text_generation
            rows = self._reads.texts(missing)
            tok = self._tokenizer.tokenize
            fresh = {
                pid: rerank.PaperText(tuple(tok(t)), tuple(tok(a))) for pid, (t, a) in rows.items()
            }
            found.update(fresh)
            with self._text_lock:
                if generation == self._text_generation:  # else a paper may have changed
                    cache.update(fresh)
                while len(cache) > TEXT_CACHE:
                    cache.popitem(last=False)
        return found

    def _forget_texts(self, ids: Iterable[int] | None = None) -> None:
        """Drop cached texts of changed papers (all of them when `ids` is None)."""
        with self._text_lock:
            self._text_generation += 1
            if ids is None:
                self._text_cache.clear()
            else:
                for pid in ids:
                    self._text_cache.pop(pid, None)

    @staticmethod
    def _check_page(limit: int, offset: int, since: date | None, until: date | None) -> None:
        if not 1 <= limit <= MAX_LIMIT:
            raise QueryError(f"Ask for between 1 and {MAX_LIMIT} results at a time.")
        if offset < 0:
            raise QueryError("The page offset cannot be negative.")
        if since and until and since > until:
            raise QueryError(f"The start date {since} is after the end date {until}.")

    @property
    def acronyms(self) -> AcronymTable:
        """Acronym definitions learned from the indexed papers."""
        return self._acronyms

    def refresh(self) -> int:
        """Apply papers changed in the database since the last look, now; returns how many
        were (re)indexed (rows whose indexed text and filter fields did not change are
        skipped). Database errors are raised (the background refresher only logs them)."""
        with self._lock:
            if self._index is None:
                return self._load_or_build()
            return self._catch_up()

    def warm(self, prebuilt: Prebuild | None = None) -> None:
        """Build (or load) the index now, so the first search is fast.

        `prebuilt`: what a large import tokenized while it wrote (importers.run.import_paths
        with prebuild_index=True), used if this builds; closed either way."""
        try:
            if prebuilt is None:
                self._ready()
            else:
                with self._lock:
                    if self._index is None:
                        self._load_or_build(prebuilt)
        finally:
            if prebuilt is not None:
                prebuilt.close()

    def save(self) -> bool:
        """Persist the index to index_dir now (False when there is no index_dir)."""
        if self._index_dir is None:
            return False
        with self._lock:  # a consistent state + rev; the slow write happens outside
            index = self._ready()
            state, rev, unsaved = index.state(), self._last_rev, self._unsaved
        with self._save_lock:
            # Acronyms first: a reader that sees the new manifest finds them at least as new.
            self._index_dir.mkdir(parents=True, exist_ok=True)
            self._acronyms.save(self._index_dir, self._tokenizer.version)
            persist.save(
                state,
                self._index_dir,
                db_instance_id=self._db_instance_id(),
                rev=rev,
                title_weight=TITLE_WEIGHT,
                tokenizer_version=self._tokenizer.version,
            )
        with self._lock:
            self._unsaved -= unsaved
            self._saved_rev = max(self._saved_rev or 0, rev)
            self._saves += 1
        return True

    def ensure_saved(self, prebuilt: Prebuild | None = None) -> bool:
        """Make the saved index in index_dir current with the database; True if it wrote one.

        For the importer: an import killed during the index build leaves no saved index, and
        rerunning it finds every paper unchanged, so nothing else would rebuild it before the
        first search. A current saved index is recognized from its manifest alone (nothing
        is loaded); a missing or unfit one is rebuilt, a stale one loaded and caught up.
        `prebuilt` as in warm().
        """
        try:
            if self._index_dir is None:
                return False
            with self._lock:
                saves = self._saves
                if self._index is None:
                    if self._saved_index_is_current():
                        return False
                    self._load_or_build(prebuilt, save_errors=True)  # a build saves itself
                else:
                    self._catch_up()
                if (self._unsaved or self._saved_rev != self._last_rev
                        or not self._manifest_exists()):
                    self.save()
                return self._saves > saves
        finally:
            if prebuilt is not None:
                prebuilt.close()

    def saved_index_is_current(self) -> bool:
        """Whether index_dir holds an index that fits this database and is at its rev, from
        the manifest alone (nothing is loaded): a read-only engine serves only such an index."""
        return self._index_dir is not None and self._saved_index_is_current()

    def close(self, timeout: float = 10.0) -> None:
        """Stop the background refresher and wait (up to `timeout` s each) for it and for a
        background save in flight. Searches and explicit refresh() keep working."""
        self._stop.set()
        for thread in (self._refresher, self._saver, self._prewarmer):
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout)

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

    @property
    def index(self) -> BM25Index:
        """The current index (built or loaded on first use), read-only, for readers that score
        with weights of their own (the recommender: see BM25Index.match_terms)."""
        return self._ready()

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

    def _start_refresher(self) -> None:
        """Start the background refresher once the index exists (called under the lock)."""
        if self._refresh_interval is None or self._stop.is_set():
            return
        if self._refresher is not None and self._refresher.is_alive():
            return
        self._refresher = threading.Thread(
            target=_refresh_loop,
            args=(weakref.ref(self), self._stop, self._refresh_interval),
            name="search-refresh",
            daemon=True,
        )
        self._refresher.start()

    def _background_catch_up(self) -> None:
        """One look of the background refresher (a no-op until the index exists)."""
        with self._lock:
            if self._index is not None and not self._stop.is_set():
                self._catch_up()

    def _db_instance_id(self) -> str:
        if self._instance_id is None:
            value = self._reads.instance_id()
            if value is None:  # only a read-only reader answers None: it cannot mint one
                raise StaleIndex("the database has no instance id yet")
            self._instance_id = value
        return self._instance_id

    def _manifest_exists(self) -> bool:
        return self._index_dir is not None and (self._index_dir / persist.MANIFEST).exists()

    def _saved_index_is_current(self) -> bool:
        """Whether index_dir holds an index that fits and is at the database's rev (cheap:
        the manifest and the data file's size only; load() checks everything else)."""
        assert self._index_dir is not None
        try:
            m = persist.read_manifest(self._index_dir)
            data = self._index_dir / Path(m.data_file).name
            fits = (
                m.format == persist.FORMAT
                and m.tokenizer_version == self._tokenizer.version
                and m.title_weight == TITLE_WEIGHT
                and m.db_instance_id == self._db_instance_id()
                and data.stat().st_size == m.size
            )
        except (StaleIndex, OSError):
            return False
        if not fits:
            return False
        return m.rev == self._reads.max_rev() and m.n_docs == self._reads.count()

    def _load_or_build(self, prebuilt: Prebuild | None = None, *,
                       save_errors: bool = False) -> int:
        """Load the saved index if it provably fits the database; otherwise rebuild + save.
        A failed save is a warning (the index serves from memory), or raised with
        `save_errors` for a caller whose job is the saved index (ensure_saved)."""
        n = None
        if self._index_dir is not None:
            try:
                n = self._load()
            except StaleIndex as exc:
                if self._db is None:
                    raise  # read-only: the caller falls back to an engine that can build
                log.info("search index in %s not used: %s; rebuilding", self._index_dir, exc)
        if n is None:
            if self._db is None:
                raise StaleIndex("no index directory, and a read-only engine cannot build")
            n = self._build(prebuilt)
            assert self._index is not None
            prewarm(self._index)
            if self._index_dir is not None:
                try:
                    self.save()
                except OSError as exc:
                    if save_errors:
                        raise
                    log.warning("could not save the search index to %s: %s", self._index_dir, exc)
        self._start_refresher()
        return n

    def _load(self) -> int:
        assert self._index_dir is not None
        started = time.perf_counter()
        index, manifest = persist.load(
            self._index_dir,
            db_instance_id=self._db_instance_id(),
            title_weight=TITLE_WEIGHT,
            tokenizer_version=self._tokenizer.version,
        )
        try:
            acronyms = AcronymTable.load(self._index_dir, self._tokenizer.version)
        except ValueError as exc:
            # An index saved before acronyms were learned: still exact BM25, so keep it (a
            # rebuild of a big library takes minutes); queries go without acronyms until
            # the next rebuild, and new papers' definitions are learned as they arrive.
            log.info("search index in %s has no acronyms (%s)", self._index_dir, exc)
            acronyms = AcronymTable()
        db_rev, count_before = self._reads.max_rev(), self._reads.count()
        if manifest.rev > db_rev:
            raise StaleIndex(f"saved at rev {manifest.rev} but the database is at rev {db_rev}")
        if count_before - len(index) > max(CATCH_UP_MAX, len(index) // 4):
            raise StaleIndex(
                f"{count_before - len(index)} papers were added since it was saved "
                "(rebuilding beats catching up)"
            )
        self._index, self._last_rev, self._unsaved = index, manifest.rev, 0
        self._acronyms = acronyms
        self._saved_rev = manifest.rev
        try:
            n = self._catch_up()
            # Papers are never deleted, so a fitting index holds at least every paper counted
            # before the catch-up and at most every paper counted after it.
            if len(index) < count_before:
                raise StaleIndex(f"holds {len(index)} papers, the database {count_before}")
            if len(index) > count_before:
                count_after = self._reads.count()
                if len(index) > count_after:
                    raise StaleIndex(f"holds {len(index)} papers, the database {count_after}")
        except BaseException:
            self._index, self._last_rev, self._unsaved, self._saved_rev = None, 0, 0, None
            self._acronyms = AcronymTable()
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

    def _build(self, prebuilt: Prebuild | None = None) -> int:
        started = time.perf_counter()
        index = BM25Index()
        acronyms = AcronymTable()
        n_workers = min(
            BUILD_WORKERS if self._build_workers is None else self._build_workers,
            os.cpu_count() or 1,
        )
        threshold = (
            PARALLEL_MIN_PAPERS if self._parallel_min_papers is None else self._parallel_min_papers
        )
        with self._db.session() as s:
            # Read max_rev first: anything committed later has a higher rev and is re-read
            # by the next catch-up (replacing a paper is idempotent).
            rev = papers.max_rev(s)
            n = None
            if prebuilt is not None:
                # Batches an import encoded while it wrote, used where they still match.
                from bot.search import workers

                try:
                    if prebuilt.tokenizer is self._tokenizer and prebuilt.batches:
                        ids, revs = papers.index_versions(s)
                        items, left = workers.with_prebuilt(
                            ids,
                            revs,
                            prebuilt.batches,
                            lambda a, b: papers.iter_index_rows_between(s, a, b),
                        )
                        log.info(
                            "search index build: %d of %d papers encoded during the import",
                            len(ids) - left,
                            len(ids),
                        )
                        del ids, revs
                        pooled = n_workers > 1 and left >= threshold
                        n = self._build_in_workers(index, acronyms, items, n_workers, pooled)
                finally:
                    prebuilt.close()
                if n is None:
                    index, acronyms = BM25Index(), AcronymTable()
            if n is None and n_workers > 1 and papers.count_papers(s) >= threshold:
                from bot.search import workers

                batches = workers.row_batches(papers.iter_index_rows(s, 0))
                n = self._build_in_workers(index, acronyms, batches, n_workers)
            if n is None:
                acronyms = AcronymTable()
                n = index.build(
                    self._learned_doc(r, acronyms) for r in papers.iter_index_rows(s, 0)
                )
        self._index, self._last_rev, self._acronyms = index, rev, acronyms
        self._forget_texts()
        self._unsaved = n
        log.info("search index built: %d papers in %.1fs", n, time.perf_counter() - started)
        return n

    def _learned_doc(self, row: IndexRow, acronyms: AcronymTable) -> Doc:
        """The row's index document; its acronym definitions go into `acronyms`."""
        acronyms.add(definitions(f"{row.title}. {row.abstract}", self._tokenizer))
        return row_doc(row, self._tokenizer)

    def _build_in_workers(
        self,
        index: BM25Index,
        acronyms: AcronymTable,
        items: Iterable[object],
        n_workers: int,
        pooled: bool = True,
    ) -> int | None:
        """Build with tokenizing in worker processes; None if they could not run.

        `items`, in id order: batches of rows (workers.row_batches) to encode, and batches
        an import already encoded (workers.Prebuilt). Without `pooled`, row batches are
        encoded here (few papers beside the prebuilt ones). Workers are spawned (never
        forked from this process, which may be a threaded server) and die with it (see
        workers). Term ids are still assigned here, in order. As with any multiprocessing
        start method but fork, workers import the main module: a script that builds must do
        so under `if __name__ == "__main__"` (the `paperbot` command and `python -m` entry
        points do); if the workers die, the build falls back to this process.
        """
        # Imported here: multiprocessing is only for big builds (and slows every start-up).
        import contextlib
        from concurrent.futures.process import BrokenProcessPool

        from bot.search import workers

        try:
            with contextlib.ExitStack() as stack:
                pool = (
                    stack.enter_context(workers.pool(n_workers, self._tokenizer))
                    if pooled
                    else None
                )
                return index.build_encoded(
                    workers.encode_in_order(
                        items,  # type: ignore[arg-type]
                        pool,
                        n_workers,
                        acronyms,
                        self._tokenizer,
                    )
                )
        except (BrokenProcessPool, OSError, workers.PrebuildFailed) as exc:
            log.warning(
                "building the search index in worker processes failed (%s); "
                "building in this process",
                exc,
            )
            return None

    def _catch_up(self) -> int:
        assert self._index is not None
        rows: list[IndexRow] = []
        if self._reads.max_rev() > self._last_rev:
            rows = list(self._reads.index_rows(self._last_rev))
        if not rows:
            return 0
        n = self._index.apply(self._learned_doc(r, self._acronyms) for r in rows)
        self._forget_texts(r.id for r in rows)
        self._last_rev = max(self._last_rev, *(r.rev for r in rows))
        if n:
            self._prewarm_in_background()  # common words' cached scores depend on N and avgdl
        self._unsaved += n
        if self._unsaved >= SAVE_EVERY:
            self._save_in_background()
        log.debug("search index caught up to rev %d (%d papers)", self._last_rev, n)
        return n
