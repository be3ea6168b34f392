"""The writing pass replays the checking pass's spool instead of reading the file again.

What must not change: the report (counts, bad lines with their numbers, replaced
duplicates), the stored rows, and what happens where a file breaks off. Each case is
imported twice, once through the spool and once with no usable temporary directory (the
fallback that reads the file again, as every import did before), and both must agree.
"""

from __future__ import annotations

import gzip
import json
import tempfile
from datetime import date
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.importers.arxiv import arxiv_entry_to_record
from bot.importers.errors import ImportFailed, RecordError
from bot.importers.run import ImportReport, import_paths
from bot.importers.spool import Spool
from storage.db import Database
from storage.models import Paper
from tests.importers.conftest import arxiv_line, write_arxiv

COLUMNS = ("key", "title", "abstract", "authors", "published", "categories", "url", "source")


def stored(db: Database) -> list[tuple]:
    with db.session() as s:
        return [
            tuple(getattr(p, c) for c in COLUMNS)
            for p in s.scalars(select(Paper).order_by(Paper.key))
        ]


def outcome(report: ImportReport) -> tuple:
    return (
        [(f.format, f.counts.summary(), f.replaced, f.replaced_examples) for f in report.files],
        [(b.line, b.reason) for b in report.bad],
        report.bad_total,
    )


def both_ways(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    paths: list[Path],
    **kwargs: object,
) -> tuple[tuple, list[tuple]]:
    """Import into two fresh databases, with and without a spool; the common outcome."""
    results = []
    for spooled in (True, False):
        db = Database(f"sqlite:///{tmp_path}/{'spool' if spooled else 'reread'}.db")
        db.migrate()
        with monkeypatch.context() as m:
            if not spooled:  # no temporary directory: Spool cannot open its file
                m.setattr(tempfile, "tempdir", str(tmp_path / "missing"))
                assert not Spool(paths[0]).usable
            results.append((outcome(import_paths(db, paths, **kwargs)), stored(db)))  # type: ignore[arg-type]
        db.dispose()
    assert results[0] == results[1]
    return results[0]


def test_bad_lines_and_duplicates_report_the_same_through_the_spool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = [arxiv_line(i) for i in range(6)]
    lines.insert(2, "{not json")
    lines.insert(4, json.dumps({"id": "2301.99999", "title": "", "abstract": "x"}))
    lines.append(arxiv_line(1).replace("sparse attention", "dense attention"))  # a later copy
    path = tmp_path / "snapshot.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (files, bad, bad_total), rows = both_ways(tmp_path, monkeypatch, [path], skip_bad=True)
    assert files == [("arxiv", "added 6, updated 0, unchanged 0, skipped 2", 1, [(2, 9)])]
    assert [line for line, _ in bad] == [3, 5] and bad_total == 2
    assert len(rows) == 6
    assert any("dense attention" in r[1] for r in rows)  # the last occurrence won


def test_a_gzip_stream_that_breaks_off_keeps_what_came_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = gzip.compress(write_arxiv(tmp_path / "s.jsonl", 400).read_bytes())
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(whole[: len(whole) * 2 // 3])  # a truncated download
    (files, bad, _), rows = both_ways(tmp_path, monkeypatch, [path], skip_bad=True)
    assert len(bad) == 1 and "cannot read it" in bad[0][1]
    assert bad[0][0] == len(rows) + 1  # named at the first line it could not read
    assert files[0][1].endswith("skipped 1") and len(rows) > 100


def test_strict_import_of_a_broken_file_still_writes_nothing(db: Database, tmp_path: Path) -> None:
    good = write_arxiv(tmp_path / "good.jsonl", 50)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(arxiv_line(1) + "\n" + arxiv_line(2)[:40] + "\n", encoding="utf-8")
    with pytest.raises(ImportFailed) as caught:
        import_paths(db, [good, bad])  # the good file is checked and spooled first
    assert (caught.value.path, caught.value.line) == (bad, 2)
    assert stored(db) == []
    report = import_paths(db, [good])
    assert report.total.added == 50
    assert import_paths(db, [good]).total.unchanged == 50  # a re-import finds every paper


def test_snapshot_dates_read_as_the_email_parser_reads_them() -> None:
    """The fast path for "Mon, 2 Apr 2007 19:18:42 GMT" agrees with parsedate_to_datetime,
    including the stamps both must refuse."""
    stamps = [
        "Mon, 2 Apr 2007 19:18:42 GMT",
        "Tue, 31 Dec 2019 23:59:59 GMT",
        "2 Apr 2007 00:00:00 GMT",
        "Fri, 29 Feb 2008 12:00:00 GMT",
        "Thu, 29 Feb 2007 12:00:00 GMT",
        "Mon, 2 Apr 2007 24:00:00 GMT",
        "Mon, 2 Apr 2007 19:18:60 GMT",
        "Mon, 0 Apr 2007 19:18:42 GMT",
        "Mon, 2 Apr 0000 19:18:42 GMT",
        "Mon, 2 Apr 07 19:18:42 GMT",
        "Mon, 2 Apr 2007 19:18:42 +0530",
        "Mon, 2 Xyz 2007 1:2:3 GMT",
    ]
    for stamp in stamps:
        entry = {
            "id": "2301.00001",
            "title": "T",
            "abstract": "A",
            "versions": [{"version": "v1", "created": stamp}],
        }
        try:
            expected: date | None = parsedate_to_datetime(stamp).date()
        except (TypeError, ValueError, OverflowError, IndexError):
            expected = None
        if expected is None:
            with pytest.raises(RecordError, match=r"versions\[0\]\.created is not a date"):
                arxiv_entry_to_record(entry)
        else:
            assert arxiv_entry_to_record(entry).published == expected, stamp
