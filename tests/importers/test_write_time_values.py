"""Values that only failed at write time are caught by the checking pass (Hardening, defect 3).

Before: a lone surrogate, upvotes of 10**30, a NUL in a title (PostgreSQL) or a 1 MB title
at line 5001 passed the checking pass, so the import committed 4,000 rows, then died with
a traceback naming no file or line, and --skip-bad could not skip the line. Deeply nested
JSON gave a RecursionError traceback. A paper given twice in one file with different data
gave a row mixing both lines, and every re-import reported "updated 2".
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.cli import main as cli_main
from bot.importers.errors import BadRecord, ImportFailed
from bot.importers.run import import_paths
from storage.db import Database
from storage.models import Paper
from tests.conftest import make_cli_env
from tests.importers.conftest import arxiv_line, count_rows, state

GOOD_BEFORE = 5000  # the bad record is line 5001, after two full write batches (2,000 each)
BAD_LINE = GOOD_BEFORE + 1


def hf_line(i: int, **paper: Any) -> str:
    """One daily-papers entry for generated paper i (ids 2301.00000 + i)."""
    entry = {
        "paper": {
            "id": f"2301.{i:05d}",
            "title": f"Generated trending paper {i}",
            "summary": f"We study item {i} and show that it trends.",
            "authors": [{"name": f"Author {i}"}, {"name": "B. Writer"}],
            "publishedAt": "2023-01-02T10:00:00.000Z",
            "upvotes": i % 100,
            **paper,
        },
        "title": f"Generated trending paper {i}",
    }
    return json.dumps(entry)


def arxiv_entry(i: int, **fields: Any) -> str:
    entry = json.loads(arxiv_line(i))
    entry.update(fields)
    return json.dumps(entry)  # ensure_ascii: a lone surrogate is written as "\ud800"


def write_with_bad_line(path: Path, make: Callable[..., str], bad: str) -> Path:
    """GOOD_BEFORE good lines, the bad one at BAD_LINE, and one more good line."""
    with path.open("w", encoding="utf-8") as f:
        for i in range(GOOD_BEFORE):
            f.write(make(i) + "\n")
        f.write(bad + "\n")
        f.write(make(GOOD_BEFORE + 1) + "\n")
    return path


# name -> (line maker, the bad line, the field the error must name, words of the reason)
CASES: dict[str, tuple[Callable[..., str], str, str, str]] = {
    "lone surrogate": (
        arxiv_line, arxiv_entry(GOOD_BEFORE, title="A lone \ud800 surrogate"),
        "title", "unpaired surrogate",
    ),
    "upvotes 10**30": (hf_line, hf_line(GOOD_BEFORE, upvotes=10**30), "paper.upvotes", "too large"),
    "NUL in title": (
        arxiv_line, arxiv_entry(GOOD_BEFORE, title="A NUL \x00 inside"), "title", "NUL character"
    ),
    "1 MB title": (
        arxiv_line, arxiv_entry(GOOD_BEFORE, title="x" * 1_000_000), "title",
        "1,000,000 characters long (at most 1,000)",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_value_at_line_5001_is_refused_before_any_write(
    db: Database, tmp_path: Path, case: str
) -> None:
    make, bad, field_name, why = CASES[case]
    path = write_with_bad_line(tmp_path / "papers.jsonl", make, bad)
    assert bad in path.read_text(encoding="utf-8")

    with pytest.raises(ImportFailed) as failed:
        import_paths(db, [path])
    assert (failed.value.path, failed.value.line) == (path, BAD_LINE)
    assert str(failed.value).startswith(f"{path} line {BAD_LINE}: {field_name} ")
    assert why in failed.value.reason
    assert count_rows(db) == 0  # nothing written: not the 4,000 rows of two batches

    report = import_paths(db, [path], skip_bad=True)
    assert (report.total.added, report.total.skipped) == (GOOD_BEFORE + 1, 1)
    assert report.bad_total == 1
    (listed,) = report.bad
    assert (listed.path, listed.line) == (path, BAD_LINE)
    assert listed.reason.startswith(f"{field_name} ") and why in listed.reason
    assert f"{path}:{BAD_LINE}: {field_name} " in report.render()
    assert count_rows(db) == GOOD_BEFORE + 1


def test_cli_names_file_line_and_field_and_imports_nothing(
    db: Database, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The NUL case through `paperbot import` (on PostgreSQL it was a write-time DataError)."""
    for name, value in make_cli_env(db_url, tmp_path).items():
        monkeypatch.setenv(name, value)
    make, bad, field_name, _ = CASES["NUL in title"]
    path = write_with_bad_line(tmp_path / "papers.jsonl", make, bad)

    assert cli_main(["import", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"paperbot: {path} line {BAD_LINE}: {field_name} contains a NUL character" in err
    assert "Nothing was imported." in err and "Traceback" not in err
    assert count_rows(db) == 0

    assert cli_main(["import", "--skip-bad", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"added {GOOD_BEFORE + 1}, updated 0, unchanged 0, skipped 1" in out
    assert f"{path}:{BAD_LINE}: {field_name} contains a NUL character" in out
    assert count_rows(db) == GOOD_BEFORE + 1


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (hf_line(7, publishedAt="0001-01-01"), "published date 0001-01-01 is outside"),
        (hf_line(7, publishedAt="9999-12-31T00:00:00Z"), "published date 9999-12-31"),
        (hf_line(7, upvotes=-3), "paper.upvotes must not be negative"),
        (hf_line(7, upvotes=2**31), "paper.upvotes is too large"),
        (hf_line(7, summary="y " * 30_000), "abstract is 59,999 characters long"),
        (hf_line(7, authors=[{"name": "Bad \udc00 name"}]), "paper.authors[0].name contains an"),
        (hf_line(7, authors=[{"name": f"A{i}"} for i in range(10_001)]), "authors lists 10,001"),
        (hf_line(7, githubRepo="https://github.com/" + "r" * 3000), "code_url is 3,019 char"),
        (hf_line(7, id="a" * 60 + "/1234567"), "paper.id is not an arXiv id"),
    ],
)
def test_other_values_the_database_would_refuse_name_the_line(
    db: Database, tmp_path: Path, bad: str, reason: str
) -> None:
    path = tmp_path / "hf.jsonl"
    path.write_text("\n".join([hf_line(1), hf_line(2), bad, hf_line(3)]) + "\n")
    with pytest.raises(ImportFailed, match=rf"^{path} line 3: ") as failed:
        import_paths(db, [path])
    assert reason in failed.value.reason
    assert count_rows(db) == 0


def test_control_characters_become_spaces_and_nul_is_refused_in_a_listing(
    db: Database, tmp_path: Path
) -> None:
    """Harmless control characters are normalised like whitespace; NUL (past the format
    sniffing window) is refused at its line instead of failing on PostgreSQL's write."""
    abstract = "We show that a long enough line of text is read as the abstract of the title."
    pad = "".join(f"Padding paper {i}\n{abstract}\n" for i in range(1000))  # > 64 KiB
    path = tmp_path / "listing.txt"
    path.write_text(f"{pad}Bell\x07 and\x1b tab\ttitle\n{abstract}\nNul\x00 title\n{abstract}\n")
    with pytest.raises(ImportFailed) as failed:
        import_paths(db, [path])
    assert failed.value.line == 2003 and "title contains a NUL character" in failed.value.reason
    assert count_rows(db) == 0
    report = import_paths(db, [path], skip_bad=True)
    assert (report.total.added, report.total.skipped) == (1001, 1)
    with db.session() as s:
        titles = set(s.scalars(select(Paper.title)))
    assert "Bell and tab title" in titles


DEEP = "[" * 100_000


def test_deeply_nested_json_file_is_a_clear_error(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text(f"[{hf_line(1)},\n{DEEP}\n")
    with pytest.raises(ImportFailed) as failed:
        import_paths(db, [path])
    assert (failed.value.path, failed.value.line) == (path, 2)
    assert "nested too deeply" in failed.value.reason
    assert count_rows(db) == 0


@pytest.mark.parametrize("at", [1, 3])
def test_deeply_nested_jsonl_line_is_a_clear_error(db: Database, tmp_path: Path, at: int) -> None:
    path = tmp_path / "deep.jsonl"
    lines = [arxiv_line(1), arxiv_line(2), arxiv_line(3)]
    lines.insert(at - 1, '{"id": ' + DEEP)  # a JSONL line (a '[' first line reads as an array)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ImportFailed) as failed:
        import_paths(db, [path])
    assert str(failed.value).startswith(f"{path} line {at}: invalid JSON (nested too deeply")
    assert count_rows(db) == 0
    report = import_paths(db, [path], fmt="arxiv", skip_bad=True)
    assert report.total.added == 3
    assert report.bad == [BadRecord(path, at, report.bad[0].reason)]
    assert "nested too deeply" in report.bad[0].reason


def paper_row(db: Database, arxiv_id: str) -> Paper:
    with db.session() as s:
        row = s.scalars(select(Paper).where(Paper.arxiv_id == arxiv_id)).one()
        s.expunge(row)
        return row


def test_same_paper_twice_in_a_file_the_last_line_wins_and_reimport_is_unchanged(
    db: Database, tmp_path: Path
) -> None:
    first = arxiv_entry(
        7, title="First version of the paper", abstract="A long first abstract. " * 20,
        authors_parsed=[["One", "A.", ""], ["Two", "B.", ""], ["Three", "C.", ""]],
    )
    last = arxiv_entry(
        7, title="Second version of the paper", abstract="Short.",
        authors_parsed=[["Solo", "D.", ""]], categories="math.CO", update_date="2024-02-03",
        versions=[],
    )
    path = tmp_path / "dups.jsonl"
    path.write_text("\n".join([first, arxiv_line(8), last]) + "\n")

    report = import_paths(db, [path])
    row = paper_row(db, "2301.00007")
    assert (row.title, row.abstract, row.authors) == (
        "Second version of the paper", "Short.", ["D. Solo"]
    )
    assert (row.categories, str(row.published)) == ("math.CO", "2024-02-03")
    before = state(db)

    again = import_paths(db, [path])
    assert (again.total.added, again.total.updated, again.total.unchanged) == (0, 0, 2)
    assert state(db) == before  # same rows, same rev: the index is not churned

    (f,) = report.files
    assert (f.counts.added, f.counts.updated, f.replaced) == (2, 0, 1)
    assert "1 duplicate line(s) replaced by a later line of the same paper (line 1 by line 3)" \
        in report.render()


def test_duplicates_on_one_line_of_a_json_array_and_in_skip_bad_mode(
    db: Database, tmp_path: Path
) -> None:
    """Positions, not line numbers, decide: a one-line array holds every entry on line 1."""
    path = tmp_path / "daily.json"
    entries = [hf_line(1, upvotes=50, title="Old"), hf_line(2), hf_line(1, upvotes=3, title="New")]
    path.write_text("[" + ", ".join(entries) + "]")
    report = import_paths(db, [path], skip_bad=True)
    row = paper_row(db, "2301.00001")
    assert (row.title, row.upvotes) == ("New", 3)
    again = import_paths(db, [path])
    assert (again.total.updated, again.total.unchanged) == (0, 2)
    assert (report.total.added, report.files[0].replaced) == (2, 1)


def test_listing_with_the_same_title_twice_keeps_the_last_abstract(
    db: Database, tmp_path: Path
) -> None:
    a1 = "The first abstract of this paper is long enough to read as an abstract line here."
    a2 = "The second abstract, which replaces the first one, is also long enough to read."
    path = tmp_path / "listing.txt"
    path.write_text(f"Same Title\n{a1}\nOther title\n{a1}\nSame  title!\n{a2}\n")
    report = import_paths(db, [path])
    with db.session() as s:
        abstracts = {t: a for t, a in s.execute(select(Paper.title, Paper.abstract))}
    assert abstracts["Same title!"] == a2
    assert import_paths(db, [path]).total.updated == 0
    assert (report.total.added, report.files[0].replaced) == (2, 1)
