"""`paperbot import`: check every file, then write it in batches, each its own transaction.

Why two passes: a malformed file must leave the database exactly as it was, yet a
million-line import cannot be one transaction (or one list in memory). So the first
pass streams through every file writing nothing and stops at the first bad line; the
second commits every BATCH_RECORDS records. The second pass does not parse the file again:
the first keeps what it checked in a temporary spool (bot.importers.spool) that the second
replays; a large plain JSON Lines file is checked by two worker processes at once
(bot.importers.parallel). If the second pass is killed, rerunning the import is safe:
upsert is idempotent, so what was stored counts as unchanged and nothing is duplicated.
With skip_bad the first pass does not stop at bad lines; the second writes the good
records and lists the bad ones as skipped.

The first pass checks everything the database would refuse at write time (NUL, unpaired
surrogates, out-of-range numbers and dates, absurd sizes: see PaperRecord), so no file
fails half-way through its batches.

Duplicates within one file (the same arXiv id, or for listings the same normalized title,
given twice): the LAST occurrence wins entirely, as if the file were a log of updates. The
earlier lines are not written at all (no row mixing fields of both), and are counted and
shown as "replaced by a later line" in the report. Re-importing the file therefore finds
every paper unchanged. Across files and earlier imports the usual merge applies (fuller
text, more upvotes, missing fields filled: see storage.papers.upsert_papers).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from bot.importers import parallel
from bot.importers.detect import FORMATS, open_parser
from bot.importers.errors import BadRecord, ImportFailed
from bot.importers.progress import Progress
from bot.importers.source import Source
from bot.importers.spool import Spool
from storage.db import Database, DatabaseError, explain
from storage.papers import IngestCounts, PaperRecord, count_papers, upsert_papers

if TYPE_CHECKING:
    from bot.search.workers import Prebuild

__all__ = ["BadRecord", "FileReport", "ImportFailed", "ImportReport", "import_paths"]

log = logging.getLogger(__name__)

# Records per committed transaction. Each SQLite commit of a bulk load also checkpoints the
# WAL (copy + fsync), so a few large commits beat many small ones; 10k papers hold the write
# lock ~0.5 s at a time, short next to other writers' 15 s busy timeout.
BATCH_RECORDS = 10_000
BULK_CACHE_KIB = 256 << 10  # SQLite page cache of the importing connection (see _bulk_cache)
SQLITE_DEFAULT_CACHE = -2000  # SQLite's own default (2 MB), restored after the import
# WAL pages after which the importing connection checkpoints (see _bulk_cache): ~256 MB of
# 4 KiB pages instead of SQLite's 1000 (4 MB), so a checkpoint follows every ~10th commit.
BULK_WAL_PAGES = 65_536
SQLITE_DEFAULT_WAL_PAGES = 1000
MAX_BAD_KEPT = 10_000  # skipped lines beyond this are counted, not listed
# Finding duplicates in a file of millions of records without holding every key: a bitmap
# of key hashes (16 MiB) marks keys seen; only keys whose bit was already set (real repeats
# and ~1% false positives) are kept, exactly, with their last position.
SEEN_BITS = 1 << 27
REPLACED_SHOWN = 5  # example line pairs of replaced duplicates in the report


@dataclass
class Duplicates:
    """Last position (ordinal among the file's items, and line) of keys seen more than once.

    Positions are ordinals, not lines: one line of a JSON array may hold several entries.
    """

    last: dict[str, tuple[int, int]] = field(default_factory=dict)
    records: int = 0  # good entries the checking pass found (0 if it could not read the file)

    def superseded_by(self, key: str, ordinal: int) -> int | None:
        """The line of the later occurrence that replaces this one, or None to write it."""
        at = self.last.get(key)
        return at[1] if at is not None and at[0] != ordinal else None


@dataclass
class FileReport:
    path: Path
    format: str = "?"
    counts: IngestCounts = field(default_factory=IngestCounts)
    replaced: int = 0  # earlier duplicates not written (a later line has the same paper)
    replaced_examples: list[tuple[int, int]] = field(default_factory=list)

    def summary(self) -> str:
        text = f"{self.path} ({self.format}): {self.counts.summary()}"
        if self.replaced:
            pairs = ", ".join(f"line {a} by line {b}" for a, b in self.replaced_examples)
            more = ", ..." if self.replaced > len(self.replaced_examples) else ""
            text += (
                f"; {self.replaced} duplicate line(s) replaced by a later line of the same "
                f"paper ({pairs}{more})"
            )
        return text

    @property
    def records(self) -> int:
        c = self.counts
        return c.added + c.updated + c.unchanged


@dataclass
class ImportReport:
    """Per-file and total counts, and the lines --skip-bad left out (file, line, reason).

    Counts carry no changed_ids (a million-row import would hold them all); the search
    index follows the papers' rev instead.
    """

    files: list[FileReport] = field(default_factory=list)
    bad: list[BadRecord] = field(default_factory=list)
    bad_total: int = 0
    seconds: float = 0.0
    # The search index's tokens for the new papers, made while writing (prebuild_index)
    prebuilt: Prebuild | None = field(default=None, repr=False, compare=False)

    def add_bad(self, bad: BadRecord) -> None:
        self.bad_total += 1
        if len(self.bad) < MAX_BAD_KEPT:
            self.bad.append(bad)

    @property
    def total(self) -> IngestCounts:
        total = IngestCounts()
        for f in self.files:
            total += f.counts
        return total

    def render(self, max_bad: int = 50) -> str:
        lines = [f.summary() for f in self.files]
        if len(self.files) > 1:
            lines.append(f"total: {self.total.summary()}")
        lines.append(f"({self.seconds:.1f} s)")
        if self.bad_total:
            lines.append(f"left out {self.bad_total} bad line(s) or file(s):")
            shown = self.bad[:max_bad]
            lines += [f"  {b}" for b in shown]
            if self.bad_total > len(shown):
                lines.append(f"  ... and {self.bad_total - len(shown)} more")
        return "\n".join(lines)


def import_paths(
    db: Database,
    paths: Sequence[Path],
    *,
    fmt: str = "auto",
    skip_bad: bool = False,
    progress: bool | None = None,
    on_change: Callable[[], None] | None = None,
    prebuild_index: bool = False,
) -> ImportReport:
    """Import listing / HF / arXiv files into `db`.

    Without skip_bad, raises ImportFailed (file, line, reason) before writing anything
    if any file is unusable, including values the database would refuse only at write
    time. A paper given twice in one file is imported from its last line only.
    `on_change` runs after each committed batch that added or updated papers (the CLI
    passes the search index refresh). `prebuild_index`: when this import is large enough
    to make the search index rebuild, tokenize its papers for the index in a worker while
    writing; the report's `prebuilt` then holds them, and the caller must hand it to
    SearchEngine.ensure_saved or warm (which close it) or close it.
    """
    if fmt not in ("auto", *FORMATS):
        raise ValueError(f"unknown format {fmt!r}; use auto, {', '.join(FORMATS)}")
    started = time.monotonic()
    bar = Progress(progress)
    paths = [Path(p) for p in paths]
    report = ImportReport()
    scans: list[tuple[str | None, Duplicates, Spool | None]] = []
    checking = 0.0  # seconds spent in the checking pass (logged, for the benchmark)
    prebuild: Prebuild | None = None  # the search index's tokenizing, done while writing
    offered = False
    try:
        # Without skip_bad every file is checked before the first write.
        if not skip_bad:
            for p in paths:
                scans.append(_scan(p, fmt, bar, strict=True))
            checking = time.monotonic() - started
            if prebuild_index:
                prebuild = _prebuild_for(db, sum(dups.records for _, dups, _ in scans))
        for i, path in enumerate(paths):
            if scans:
                kind, dups, spool = scans[i]
            else:
                t = time.monotonic()
                kind, dups, spool = _scan(path, fmt, bar, strict=False)
                checking += time.monotonic() - t
                if prebuild is None and prebuild_index:
                    prebuild = _prebuild_for(db, dups.records)
            file_report = FileReport(path, kind or "?")
            report.files.append(file_report)
            try:
                _write(
                    db,
                    path,
                    kind or fmt,
                    dups,
                    spool,
                    file_report,
                    report,
                    bar,
                    skip_bad,
                    on_change,
                    prebuild,
                )
            except ImportFailed as exc:
                if not skip_bad:
                    raise
                report.add_bad(BadRecord(path, exc.line, exc.reason))
                if exc.line:
                    file_report.counts.skipped += 1
            finally:
                bar.finish()
                if spool is not None:
                    spool.close()
        log.info("import phase check: %.1fs", checking)
        log.info("import phase write: %.1fs", time.monotonic() - started - checking)
        if prebuild is not None:
            log.info(
                "import: %d new papers sent to be tokenized for the search index meanwhile",
                prebuild.sent,
            )
            prebuild.finish()
            report.prebuilt, offered = prebuild, True
    finally:
        for _, _, spool in scans:
            if spool is not None:
                spool.close()
        _release_bulk_cache(db)
        if prebuild is not None and not offered:
            prebuild.close()
    report.seconds = time.monotonic() - started
    return report


def _prebuild_for(db: Database, records: int) -> Prebuild | None:
    """A Prebuild when this import is about to make the search index rebuild from scratch.

    The index (bot.search.engine) is rebuilt rather than caught up when more than
    max(CATCH_UP_MAX, a quarter of its size) papers are new; then tokenizing the new papers
    in a worker while this process writes them uses the second core, which the writing pass
    leaves idle. Smaller imports, and machines with one core, do without.
    """
    from bot.search import engine

    if (os.cpu_count() or 1) < 2 or records < engine.PARALLEL_MIN_PAPERS:
        return None
    with db.session() as s:
        stored = count_papers(s)
    if records <= max(engine.CATCH_UP_MAX, stored // 4):
        return None
    from bot.search.workers import Prebuild

    return Prebuild(db.url)


def _scan(
    path: Path, fmt: str, bar: Progress, *, strict: bool
) -> tuple[str | None, Duplicates, Spool | None]:
    """Read the whole file without writing: its format, its repeated papers and a spool of
    its checked entries for the writing pass (None if the spool could not be written).

    strict: ImportFailed at the first bad line. Otherwise bad lines and unreadable files
    are left for the writing pass to report (the spool replays them at the same place).
    """
    dups = Duplicates()
    try:
        src, kind, items = open_parser(path, fmt)
    except ImportFailed:
        if strict:
            raise
        return None, dups, None
    if parallel.can_split(src, kind):
        src.close()
        bar.start("checking", src)  # drawn once: the workers report only when done
        bar.update(0, force=True)
        bar.finish()
        shares = parallel.check_in_workers(path, kind, strict=strict)
        if shares is not None:
            return kind, dups, _merge_shares(path, shares, dups, strict=strict)
        src, kind, items = open_parser(path, kind)
    seen = bytearray(SEEN_BITS >> 3)
    mask = SEEN_BITS - 1
    spool: Spool | None = Spool(path)
    try:
        bar.start("checking", src)
        records = 0
        for ordinal, item in enumerate(items):
            spool.add(item)  # type: ignore[union-attr]
            if item.error is not None:
                if strict:
                    raise ImportFailed(path, item.line, item.error)
                continue
            key = item.record.key  # type: ignore[union-attr]
            h = hash(key) & mask
            byte, bit = h >> 3, 1 << (h & 7)
            if seen[byte] & bit:
                dups.last[key] = (ordinal, item.line)
            else:
                seen[byte] |= bit
            records += 1
            bar.update(records)
        bar.update(records, force=True)
        dups.records = records
    except ImportFailed as exc:
        if strict:
            spool.close()  # type: ignore[union-attr]
            raise
        spool.failed = exc  # type: ignore[union-attr]
    except BaseException:
        spool.close()  # type: ignore[union-attr]
        raise
    finally:
        bar.finish()
        src.close()
    spool.finish()  # type: ignore[union-attr]
    if not spool.usable:  # type: ignore[union-attr]
        log.warning("could not keep the checked records of %s on disk; reading it again", path)
        spool = None
    return kind, dups, spool


def _merge_shares(
    path: Path, shares: list[parallel.Share], dups: Duplicates, *, strict: bool
) -> Spool:
    """The serial pass's outcome from the workers' shares: the file's first bad line
    (strict), its repeated papers in file order, one spool replaying every share."""
    seen = bytearray(SEEN_BITS >> 3)
    mask = SEEN_BITS - 1
    ordinal = line_offset = 0
    failed: ImportFailed | None = None
    try:
        for k, share in enumerate(shares):
            if share.error is not None:  # strict: earlier shares were read whole and clean
                line, reason = share.error
                raise ImportFailed(path, line + line_offset if line else line, reason)
            for key, line in zip(share.keys, share.entry_lines, strict=True):
                if key is not None:
                    dups.records += 1
                    h = hash(key) & mask
                    byte, bit = h >> 3, 1 << (h & 7)
                    if seen[byte] & bit:
                        dups.last[key] = (ordinal, line + line_offset)
                    else:
                        seen[byte] |= bit
                ordinal += 1
            if share.failed is not None:  # reading stopped here: later shares never happened
                line, reason = share.failed
                failed = ImportFailed(path, line + line_offset if line else line, reason)
                del shares[k + 1 :]
                break
            line_offset += share.lines
    except BaseException:
        parallel.discard(shares)
        raise
    spool = parallel.open_spools(path, shares)
    spool.failed = failed
    return spool


def _bulk_cache(session: Session) -> None:
    """SQLite: a page cache that holds a batch's index pages while it is written, and
    checkpoints of the write-ahead log every ~10 commits rather than after each.

    The papers' indexes on arXiv id, key, title key and date take new rows at random
    places: with SQLite's default 2 MB cache a large batch spills and rewrites the same
    index pages many times before its commit. And every commit of a large batch touches
    most of those indexes' pages; checkpointing after each commit (SQLite's default, at
    4 MB of log) copied each such page back into the database file, with an fsync, every
    time; less often, only its last version is copied. Set on the import's connection
    only, and put back by _release_bulk_cache when the import ends.
    """
    if BULK_CACHE_KIB and session.get_bind().dialect.name == "sqlite":
        conn = session.connection()
        conn.exec_driver_sql(f"PRAGMA cache_size=-{BULK_CACHE_KIB}")
        conn.exec_driver_sql(f"PRAGMA wal_autocheckpoint={BULK_WAL_PAGES}")


def _release_bulk_cache(db: Database) -> None:
    if BULK_CACHE_KIB and db.dialect == "sqlite":
        with db.engine.connect() as conn:  # the pooled connection the batches used
            conn.exec_driver_sql(f"PRAGMA cache_size={SQLITE_DEFAULT_CACHE}")
            conn.exec_driver_sql(f"PRAGMA wal_autocheckpoint={SQLITE_DEFAULT_WAL_PAGES}")
            conn.exec_driver_sql("PRAGMA shrink_memory")
            try:  # copy the rest of the log back now, and shrink the log file
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            except OperationalError as exc:  # busy: a later checkpoint will
                log.info("could not checkpoint the database after the import: %s", exc)


def _write(
    db: Database,
    path: Path,
    fmt: str,
    dups: Duplicates,
    spool: Spool | None,
    file_report: FileReport,
    report: ImportReport,
    bar: Progress,
    skip_bad: bool,
    on_change: Callable[[], None] | None,
    prebuild: Prebuild | None = None,
) -> None:
    """Write the checked entries (replayed from the spool, else read again) in batches;
    each committed batch's new papers go to `prebuild` (the search index's tokenizing)."""
    src: Source | Spool
    if spool is not None:
        src, items = spool, spool.items()
    else:
        src, kind, items = open_parser(path, fmt)
        file_report.format = kind
    batch: list[PaperRecord] = []

    def flush() -> None:
        if not batch:
            return
        inserted: list[int] | None = [] if prebuild is not None else None
        try:
            with db.session() as session:
                _bulk_cache(session)
                done = upsert_papers(session, batch, inserted=inserted)
        except SQLAlchemyError as exc:
            reason = explain(exc) if isinstance(exc, OperationalError) else str(exc)
            raise DatabaseError(
                f"{path}: writing to the database failed: {reason}. "
                f"{file_report.records} papers from this file were committed before that; "
                "rerunning the import finishes it (stored papers count as unchanged)."
            ) from exc
        done.changed_ids = []
        file_report.counts += done
        batch.clear()
        if prebuild is not None and inserted:
            prebuild.add(inserted)  # committed: their ids and revs are final
        if on_change is not None and (done.added or done.updated):
            on_change()

    try:
        bar.start("importing", src)
        for ordinal, item in enumerate(items):
            if item.error is not None:
                if not skip_bad:
                    # Validated a moment ago: the file must have changed underneath us.
                    reason = f"{item.error} (did the file change during the import?)"
                    raise ImportFailed(path, item.line, reason)
                file_report.counts.skipped += 1
                report.add_bad(BadRecord(path, item.line, item.error))
                continue
            record: PaperRecord = item.record  # type: ignore[assignment]
            later = dups.superseded_by(record.key, ordinal) if dups.last else None
            if later is not None:  # the last occurrence in the file wins entirely
                file_report.replaced += 1
                if len(file_report.replaced_examples) < REPLACED_SHOWN:
                    file_report.replaced_examples.append((item.line, later))
                continue
            batch.append(record)
            if len(batch) >= BATCH_RECORDS:
                flush()
            bar.update(file_report.records + len(batch))
        if spool is not None and spool.failed is not None:
            raise spool.failed  # where the checking pass found the file broke off
        flush()
        bar.update(file_report.records, force=True)
    except ImportFailed:
        if skip_bad:
            flush()  # keep the good records read before the file broke off
        raise
    finally:
        src.close()
