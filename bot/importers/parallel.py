"""The checking pass of a large JSON Lines file, split across processes.

Why: checking (JSON decoding and every PaperRecord check) was most of what is left of a
large import once the writing pass stopped re-reading the file, and it is the same work
for every line, so a file of plain JSON Lines (arXiv snapshot, HF JSONL; not gzip, a JSON
array or a listing) is cut at line starts into one share per worker. Each worker checks
its share exactly as the serial pass would and spools it (bot.importers.spool); the parent
shifts line numbers and ordinals by the shares before, finds repeated papers over the
whole file in file order, and reports the first bad line of the file. The result is the
same as the serial pass's (tests/importers/test_parallel_check.py compares them).

Workers are spawned (never forked) and die with their parent, as the index build's are;
if they cannot run, the caller checks the file serially.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import os
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.importers.arxiv import arxiv_entry_to_record
from bot.importers.errors import ImportFailed
from bot.importers.export import export_entry_to_record
from bot.importers.hf import hf_entry_to_record
from bot.importers.jsonfile import jsonl_items
from bot.importers.source import Source
from bot.importers.spool import Spool
from storage.papers import PaperRecord

log = logging.getLogger(__name__)

PARALLEL_MIN_BYTES = 64 << 20  # smaller files: spawning workers costs more than it saves
CHECK_WORKERS = 2
MAPPERS: dict[str, Callable[[Any], PaperRecord]] = {
    "arxiv": arxiv_entry_to_record,
    "hf": hf_entry_to_record,
    "paperbot": export_entry_to_record,
}


@dataclass
class Share:
    """What a worker found in its share of the file (line numbers local to the share)."""

    spool_file: str
    lines: int = 0  # lines read (all of the share's lines unless it stopped at an error)
    keys: list[str | None] = field(default_factory=list)  # per entry; None for a bad one
    entry_lines: list[int] = field(default_factory=list)
    error: tuple[int | None, str] | None = None  # strict: the share's first bad line
    failed: tuple[int | None, str] | None = None  # the file broke off (not strict)


def shares(path: Path, n: int) -> list[tuple[int, int]]:
    """[start, end) byte ranges cut at line starts, about size / n each."""
    size = path.stat().st_size
    cuts = [0]
    with path.open("rb") as f:
        for k in range(1, n):
            f.seek(max(size * k // n - 1, cuts[-1]))
            while (chunk := f.readline(1 << 20)) and not chunk.endswith(b"\n"):
                pass  # to the end of the line holding the cut (lines may be long)
            cuts.append(max(f.tell(), cuts[-1]))
    cuts.append(size)
    return [(a, b) for a, b in itertools.pairwise(cuts) if b > a]


def check_share(path: str, fmt: str, start: int, end: int, strict: bool, spool_file: str) -> Share:
    """Worker side: check the lines in [start, end) and spool them to `spool_file`."""
    share = Share(spool_file)
    src = Source(Path(path), start, end)
    with open(spool_file, "w+b") as f:
        spool = Spool(Path(path), f)
        try:
            for item in jsonl_items(src, MAPPERS[fmt]):
                spool.add(item)
                if item.error is not None:
                    if strict:
                        share.error = (item.line, item.error)
                        break
                    share.keys.append(None)
                else:
                    share.keys.append(item.record.key)  # type: ignore[union-attr]
                share.entry_lines.append(item.line)
        except ImportFailed as exc:
            if strict:
                share.error = (exc.line, exc.reason)
            else:
                share.failed = (exc.line, exc.reason)
        finally:
            src.close()
        spool.finish()
        if not spool.usable:
            raise OSError(f"could not write {spool_file}")
    share.lines = src.lines_read
    return share


def _init_worker(parent_pid: int) -> None:
    from bot.search.workers import die_with_parent

    die_with_parent(parent_pid)


def can_split(src: Source, fmt: str) -> bool:
    """Whether `src` (opened, format `fmt` detected) is worth and fit for a parallel check."""
    if fmt not in MAPPERS or src.gzipped or src.size < PARALLEL_MIN_BYTES:
        return False
    if (os.cpu_count() or 1) < 2:
        return False
    head = src.head(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    return not head.startswith(b"[")  # a JSON array is decoded as one stream


def check_in_workers(
    path: Path, fmt: str, *, strict: bool, workers: int = CHECK_WORKERS
) -> list[Share] | None:
    """Every share's result, in file order; None when the workers could not run."""
    tmp = tempfile.mkdtemp(prefix="paperbot-import-")
    try:
        ranges = shares(path, workers)
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(
            len(ranges), mp_context=ctx, initializer=_init_worker, initargs=(os.getpid(),)
        ) as pool:
            futures = [
                pool.submit(check_share, str(path), fmt, a, b, strict, f"{tmp}/{i}.spool")
                for i, (a, b) in enumerate(ranges)
            ]
            return [f.result() for f in futures]
    except (BrokenProcessPool, OSError) as exc:
        log.warning("checking %s in worker processes failed (%s); checking it here", path, exc)
        shutil.rmtree(tmp, ignore_errors=True)
        return None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def discard(results: list[Share]) -> None:
    """Remove the shares' spool files (a strict check that found a bad line)."""
    if results:
        shutil.rmtree(os.path.dirname(results[0].spool_file), ignore_errors=True)


def open_spools(path: Path, results: list[Share]) -> Spool:
    """One spool replaying every share in order (their files unlinked once open)."""
    spool = Spool(path, None)
    spool.close()  # no file of its own: only the shares' parts
    spool.usable = True
    offset = 0
    try:
        for share in results:
            f = open(share.spool_file, "rb")  # noqa: SIM115 (closed with the spool)
            os.unlink(share.spool_file)
            spool.add_part(f, offset)
            offset += share.lines
    except BaseException:
        spool.close()
        raise
    finally:
        discard(results)
    return spool
