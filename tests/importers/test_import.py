"""import_paths against a real database (SQLite and PostgreSQL): counts, idempotence,
merging across sources, all-or-nothing on bad input, --skip-bad, batches and resuming."""

from __future__ import annotations

import gzip
import io
import json
import logging
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from bot.importers import run
from bot.importers.errors import ImportFailed
from bot.importers.run import import_paths
from storage.db import Database, DatabaseError
from storage.models import Paper
from tests.importers.conftest import count_rows, state, write_arxiv


def rows(db: Database) -> list[Paper]:
    with db.session() as s:
        return list(s.scalars(select(Paper).order_by(Paper.id)))


def test_imports_every_format(db: Database, data: Path) -> None:
    report = import_paths(
        db,
        [data / "listing_subscribe_glued.txt", data / "hf_daily_papers.json",
         data / "arxiv_snapshot.jsonl"],
    )
    assert [(f.format, f.counts.added) for f in report.files] == [
        ("listing", 4), ("hf", 2), ("arxiv", 3)
    ]
    # The HF "Scaling Properties..." paper is the listing's first entry: merged, not added.
    assert report.files[1].counts.updated == 1
    assert report.total.added == 9 and report.total.skipped == 0
    assert count_rows(db) == 9
    by_title = {p.title: p for p in rows(db)}
    scaling = by_title["Scaling Properties of Diffusion Models for Perceptual Tasks"]
    assert scaling.arxiv_id == "2411.08034" and scaling.upvotes == 12
    assert scaling.source == "listing"  # first seen there
    assert "added 4" in report.render()


def test_reimport_is_a_no_op(db: Database, data: Path) -> None:
    files = sorted(p for p in data.iterdir() if p.is_file())
    import_paths(db, files)
    before = state(db)
    report = import_paths(db, files)
    assert report.total.added == report.total.updated == 0
    assert report.total.unchanged > 0
    assert state(db) == before  # same rows, same rev: no index churn


def test_higher_upvotes_update_on_reimport(db: Database, data: Path, tmp_path: Path) -> None:
    import_paths(db, [data / "hf_daily_papers.jsonl"])
    rev = state(db)[1]
    lines = (data / "hf_daily_papers.jsonl").read_text().splitlines()
    entries = [json.loads(x) for x in lines]
    entries[1]["paper"]["upvotes"] = 250
    later = tmp_path / "later.jsonl"
    later.write_text("\n".join(json.dumps(e) for e in entries) + "\n")
    report = import_paths(db, [later])
    assert (report.total.updated, report.total.unchanged) == (1, 2)
    thyme = next(p for p in rows(db) if p.arxiv_id == "2508.11630")
    assert thyme.upvotes == 250 and thyme.rev == rev + 1


def test_listing_entry_gains_its_arxiv_id_from_hf(db: Database, data: Path) -> None:
    import_paths(db, [data / "listing_daily_papers.txt"])
    (thyme,) = [p for p in rows(db) if p.title == "Thyme: Think Beyond Images"]
    assert thyme.arxiv_id is None and thyme.key.startswith("title:")
    import_paths(db, [data / "hf_daily_papers.json"])
    matches = [p for p in rows(db) if p.title == "Thyme: Think Beyond Images"]
    assert len(matches) == 1 and matches[0].id == thyme.id
    assert matches[0].arxiv_id == "2508.11630" and matches[0].key == "arxiv:2508.11630"
    assert matches[0].code_url == "https://github.com/yfzhang114/Thyme"


def _malformed(tmp_path: Path, data: Path, case: str) -> tuple[Path, str]:
    """A bad input file and the message its ImportFailed must contain."""
    arxiv = (data / "arxiv_snapshot.jsonl").read_text().splitlines()
    hf = (data / "hf_daily_papers.jsonl").read_text().splitlines()
    listing = (data / "listing_subscribe_glued.txt").read_text().splitlines()
    p = tmp_path / f"{case}.in"
    if case == "truncated_json":
        p = tmp_path / "papers.jsonl"
        p.write_text("\n".join([arxiv[0], arxiv[1], arxiv[2][:-40]]) + "\n")
        return p, "papers.jsonl line 3: truncated JSON ("
    if case == "title_without_abstract":
        p.write_text("\n".join(listing[:9]) + "\n")
        return p, "line 9: title with no abstract at the end of the file"
    if case in ("title_number", "authors_not_list", "upvotes_many"):
        entry = json.loads(hf[2])
        key, value = {"title_number": ("title", 17), "authors_not_list": ("authors", "AK"),
                      "upvotes_many": ("upvotes", "many")}[case]
        entry["paper"][key] = value
        p.write_text("\n".join([hf[0], hf[1], json.dumps(entry)]) + "\n")
        return p, f"line 3: paper.{key} must be"
    if case == "invalid_utf8":
        p.write_bytes(("\n".join(arxiv[:2]) + "\n").encode() + arxiv[2].encode()[:30]
                      + b"\xc3\x28" + arxiv[2].encode()[30:] + b"\n")
        return p, "line 3: invalid UTF-8 (byte 0xc3 at column 31)"
    if case == "empty":
        p.write_bytes(b"")
        return p, "empty file"
    if case == "unknown":
        p.write_text('{"name": "not a paper", "size": 3}\n')
        return p, "unknown format"
    if case == "missing":
        return tmp_path / "nope.jsonl", "nope.jsonl: no such file"
    if case == "directory":
        return tmp_path, "is a directory"
    raise AssertionError(case)


MALFORMED = ["truncated_json", "title_without_abstract", "title_number", "authors_not_list",
             "upvotes_many", "invalid_utf8", "empty", "unknown", "missing", "directory"]


@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_input_changes_nothing(
    db: Database, data: Path, tmp_path: Path, case: str
) -> None:
    import_paths(db, [data / "listing_daily_papers.txt"])  # something to leave untouched
    before = state(db)
    bad, message = _malformed(tmp_path, data, case)
    good = data / "hf_daily_papers.json"  # a good file listed first is not written either
    with pytest.raises(ImportFailed) as caught:
        import_paths(db, [good, bad])
    assert message in str(caught.value)
    assert caught.value.path == bad
    assert state(db) == before


def test_skip_bad_imports_the_good_and_lists_the_bad(
    db: Database, data: Path, tmp_path: Path
) -> None:
    bad_json, _ = _malformed(tmp_path, data, "truncated_json")
    bad_types, _ = _malformed(tmp_path, data, "upvotes_many")
    missing = tmp_path / "missing.txt"
    report = import_paths(db, [bad_json, missing, bad_types], skip_bad=True)
    assert [(f.counts.added, f.counts.skipped) for f in report.files] == [(2, 1), (0, 0), (2, 1)]
    assert [(b.path.name, b.line) for b in report.bad] == [
        ("papers.jsonl", 3), ("missing.txt", None), ("upvotes_many.in", 3)
    ]
    assert "paper.upvotes must be a whole number" in report.bad[2].reason
    assert count_rows(db) == 4
    text = report.render()
    assert "left out 3 bad line(s) or file(s)" in text
    assert f"{bad_json}:3: truncated JSON" in text and f"{missing}: no such file" in text


def test_skip_bad_keeps_entries_before_a_broken_json_array(
    db: Database, data: Path, tmp_path: Path
) -> None:
    entries = json.loads((data / "hf_daily_papers.json").read_text())
    text = json.dumps(entries, indent=1)
    cut = text.index('"2508.10104"')  # inside the third entry
    path = tmp_path / "daily.json"
    path.write_text(text[:cut])
    with pytest.raises(ImportFailed, match="truncated JSON"):
        import_paths(db, [path])
    assert count_rows(db) == 0
    report = import_paths(db, [path], skip_bad=True)
    assert report.total.added == 2 and report.total.skipped == 1
    assert "rest of the file was not read" in report.bad[0].reason


def test_commits_in_batches_and_calls_on_change(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(run, "BATCH_RECORDS", 40)
    path = write_arxiv(tmp_path / "snapshot.jsonl", 200)
    seen: list[int] = []
    report = import_paths(db, [path], on_change=lambda: seen.append(count_rows(db)))
    assert seen == [40, 80, 120, 160, 200]  # each batch committed before the callback
    assert report.total.added == 200
    assert len({p.arxiv_id for p in rows(db)}) == 200
    again: list[int] = []
    import_paths(db, [path], on_change=lambda: again.append(1))
    assert again == []  # nothing changed, nothing to refresh


def test_an_interrupted_import_resumes_without_duplicates(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(run, "BATCH_RECORDS", 50)
    path = write_arxiv(tmp_path / "snapshot.jsonl", 230)
    calls = 0

    def crash() -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise KeyboardInterrupt  # as if the user hit ^C after the second commit

    with pytest.raises(KeyboardInterrupt):
        import_paths(db, [path], on_change=crash)
    assert count_rows(db) == 100
    report = import_paths(db, [path])
    assert (report.total.added, report.total.unchanged) == (130, 100)
    assert count_rows(db) == 230


def test_a_database_failure_mid_import_says_how_to_finish(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(run, "BATCH_RECORDS", 50)
    path = write_arxiv(tmp_path / "snapshot.jsonl", 120)
    real = run.upsert_papers
    calls = 0

    def flaky(session, records, **kw):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        if calls == 2:
            raise OperationalError("INSERT ...", {}, Exception("database is locked"))
        return real(session, records, **kw)

    monkeypatch.setattr(run, "upsert_papers", flaky)
    with pytest.raises(DatabaseError) as caught:
        import_paths(db, [path])
    message = str(caught.value)
    assert f"{path}: writing to the database failed: database is locked" in message
    assert "try again" in message  # storage.db.explain's advice on locks
    assert "50 papers from this file were committed before that" in message
    assert "rerunning the import finishes it" in message
    assert count_rows(db) == 50
    monkeypatch.setattr(run, "upsert_papers", real)
    assert import_paths(db, [path]).total.added == 70


def test_progress_only_when_asked_or_on_a_terminal(
    db: Database, data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    # Only the progress display is under test: log lines (the import logs its phases at
    # INFO) go wherever an earlier test's cli.main pointed the root logger, so not here.
    monkeypatch.setattr(logging.getLogger(), "handlers", [])
    err = io.StringIO()
    monkeypatch.setattr("sys.stderr", err)
    import_paths(db, [data / "arxiv_snapshot.jsonl"])  # progress=None on a non-tty: silent
    assert err.getvalue() == ""
    tty = Tty()
    monkeypatch.setattr("sys.stderr", tty)
    import_paths(db, [data / "hf_daily_papers.jsonl"])
    shown = tty.getvalue()
    assert "\rchecking hf_daily_papers.jsonl: " in shown
    assert "\rimporting hf_daily_papers.jsonl: 3 lines, 3 records, 100%" in shown
    assert shown.endswith("\r")  # erased, so the report prints on a clean line


def test_gzipped_snapshot(db: Database, data: Path, tmp_path: Path) -> None:
    gz = tmp_path / "arxiv.jsonl.gz"
    with open(data / "arxiv_snapshot.jsonl", "rb") as src, gzip.open(gz, "wb") as f:
        shutil.copyfileobj(src, f)
    assert import_paths(db, [gz]).total.added == 3


def test_unknown_format_argument(db: Database, data: Path) -> None:
    with pytest.raises(ValueError, match="unknown format 'csv'"):
        import_paths(db, [data / "arxiv_snapshot.jsonl"], fmt="csv")
