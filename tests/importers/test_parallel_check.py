"""A large JSON Lines file is checked in worker processes; the outcome must be the serial one.

Same report (counts, bad lines and their numbers, replaced duplicates across the shares),
same rows, and a strict import names the file's first bad line, whichever share holds it.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.importers import parallel
from bot.importers.errors import ImportFailed
from bot.importers.run import ImportReport, import_paths
from storage.db import Database
from storage.models import Paper
from tests.importers.conftest import arxiv_line


def snapshot(tmp_path: Path, bad: dict[int, str]) -> Path:
    """300 snapshot lines (a BOM, blank lines, a paper repeated across the halves) with
    `bad` lines replaced."""
    lines = [arxiv_line(i) for i in range(300)]
    lines[250] = arxiv_line(10).replace("sparse attention", "revised attention")
    lines[120] = ""
    for n, text in bad.items():
        lines[n - 1] = text
    path = tmp_path / "snapshot.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + "\n".join(lines).encode() + b"\n\n")
    return path


def run(tmp_path: Path, path: Path, name: str, **kwargs: object) -> tuple:
    db = Database(f"sqlite:///{tmp_path}/{name}.db")
    db.migrate()
    try:
        report: ImportReport = import_paths(db, [path], **kwargs)  # type: ignore[arg-type]
        with db.session() as s:
            rows = [(p.key, p.title, p.abstract) for p in s.scalars(select(Paper))]
    except ImportFailed as exc:
        return ("failed", exc.line, exc.reason)
    finally:
        db.dispose()
    f = report.files[0]
    bad = [(b.line, b.reason) for b in report.bad]
    return f.counts.summary(), f.replaced, f.replaced_examples, bad, sorted(rows)


def serial_and_parallel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: Path, **kwargs: object
) -> tuple:
    serial = run(tmp_path, path, "serial", **kwargs)
    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "CHECK_WORKERS", 3)
    split = run(tmp_path, path, "parallel", **kwargs)
    assert split == serial
    return serial


@pytest.mark.slow  # worker processes
def test_skip_bad_reports_the_same_from_the_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = snapshot(tmp_path, {40: "{broken", 200: json.dumps({"id": "x", "abstract": "a"})})
    summary, replaced, examples, bad, rows = serial_and_parallel(
        tmp_path, monkeypatch, path, skip_bad=True
    )
    assert summary == "added 296, updated 0, unchanged 0, skipped 2"
    assert (replaced, examples) == (1, [(11, 251)])  # line 11 replaced by line 251
    assert [line for line, _ in bad] == [40, 200]
    assert any("revised attention" in r[1] for r in rows)


@pytest.mark.slow  # worker processes
def test_strict_names_the_first_bad_line_of_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = snapshot(tmp_path, {180: "{broken", 260: b"\xff".decode("latin-1")})
    assert serial_and_parallel(tmp_path, monkeypatch, path)[:2] == ("failed", 180)
    path = snapshot(tmp_path, {290: "[1, 2"})  # only in the last share
    assert serial_and_parallel(tmp_path, monkeypatch, path)[:2] == ("failed", 290)


def test_shares_cover_the_file_at_line_starts(tmp_path: Path) -> None:
    path = tmp_path / "lines.jsonl"
    data = b"".join(b"x" * (i % 37) + b"\n" for i in range(1000)) + b"no newline at the end"
    path.write_bytes(data)
    for n in (1, 2, 3, 7):
        ranges = parallel.shares(path, n)
        assert ranges[0][0] == 0 and ranges[-1][1] == len(data)
        for (_, end), (start, _) in itertools.pairwise(ranges):
            assert end == start and data[start - 1 : start] == b"\n"
