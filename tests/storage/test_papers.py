"""The paper store: identity, idempotent monotone upsert, change tracking for the index."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from sqlalchemy import func, select

from storage.db import Database
from storage.models import Paper
from storage.papers import (
    PaperRecord,
    count_papers,
    iter_index_rows,
    max_rev,
    normalize_arxiv_id,
    title_key,
    upsert_papers,
)


def rec(title: str, abstract: str = "An abstract.", **kw: object) -> PaperRecord:
    return PaperRecord(title=title, abstract=abstract, source=kw.pop("source", "test"), **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2401.01234", "2401.01234"),
        ("2401.01234v3", "2401.01234"),
        ("arXiv:2401.01234v3", "2401.01234"),
        ("https://arxiv.org/abs/2401.01234v1", "2401.01234"),
        ("https://arxiv.org/pdf/2401.01234.pdf", "2401.01234"),
        ("hep-th/9901001v2", "hep-th/9901001"),
        ("math.GT/0309136", "math.GT/0309136"),
        ("not an id", None),
        ("", None),
        (None, None),
    ],
)
def test_normalize_arxiv_id(raw: str | None, expected: str | None) -> None:
    assert normalize_arxiv_id(raw) == expected


def test_title_key_ignores_case_spacing_punctuation_and_accents() -> None:
    assert title_key("Scaling  Laws: for LLMs!") == title_key("scaling laws for llms")
    assert title_key("Café au lait") == title_key("Cafe au lait")
    assert title_key("Scaling laws") != title_key("Scaling law")


def test_record_requires_a_title_and_cleans_whitespace() -> None:
    with pytest.raises(ValueError, match="title"):
        rec("   ")
    r = rec("A\n  multi-line   title", "first line\n   second")
    assert r.title == "A multi-line title"
    assert r.abstract == "first line second"


def test_reimport_is_a_noop(db: Database) -> None:
    records = [
        rec("Paper one", arxiv_id="2401.00001", upvotes=3, authors=("A", "B")),
        rec("Paper two", published=date(2024, 1, 2)),
    ]
    with db.session() as s:
        first = upsert_papers(s, records)
    with db.session() as s:
        rev_before = max_rev(s)
        second = upsert_papers(s, records)
    with db.session() as s:
        assert count_papers(s) == 2
        assert max_rev(s) == rev_before
    assert (first.added, first.updated, first.unchanged) == (2, 0, 0)
    assert (second.added, second.updated, second.unchanged) == (0, 0, 2)
    assert second.changed_ids == []


def test_newer_upvotes_and_fuller_metadata_update_the_row(db: Database) -> None:
    with db.session() as s:
        upsert_papers(s, [rec("Paper one", "short", arxiv_id="2401.00001", upvotes=3)])
    with db.session() as s:
        counts = upsert_papers(
            s,
            [rec("Paper one", "a much longer abstract", arxiv_id="2401.00001v2", upvotes=9,
                 authors=("Ada",), code_url="https://github.com/x/y")],
        )
    assert counts.updated == 1
    with db.session() as s:
        p = s.scalars(select(Paper)).one()
        assert (p.upvotes, p.abstract, p.authors, p.code_url) == (
            9, "a much longer abstract", ["Ada"], "https://github.com/x/y"
        )
        # An older snapshot (fewer upvotes, shorter text) does not roll it back.
        counts = upsert_papers(s, [rec("Paper one", "short", arxiv_id="2401.00001", upvotes=2)])
        assert counts.unchanged == 1
        assert (p.upvotes, p.abstract) == (9, "a much longer abstract")


def test_listing_entry_gains_its_arxiv_id_instead_of_duplicating(db: Database) -> None:
    with db.session() as s:
        upsert_papers(s, [rec("Thyme: Think Beyond Images", source="sample")])
    with db.session() as s:
        counts = upsert_papers(s, [rec("THYME: think beyond images", arxiv_id="2508.11630")])
    assert counts.updated == 1
    with db.session() as s:
        p = s.scalars(select(Paper)).one()
        assert p.arxiv_id == "2508.11630"
        assert p.key == "arxiv:2508.11630"
        assert p.url == "https://arxiv.org/abs/2508.11630"
        assert p.source == "sample"  # first source kept


def test_same_title_different_arxiv_ids_stay_two_papers(db: Database) -> None:
    with db.session() as s:
        upsert_papers(
            s, [rec("Survey", arxiv_id="2401.00001"), rec("Survey", arxiv_id="2402.00002")]
        )
        assert count_papers(s) == 2


def test_duplicates_inside_one_batch_merge(db: Database) -> None:
    with db.session() as s:
        counts = upsert_papers(
            s, [rec("Same", "short"), rec("same", "longer abstract"), rec("Same", "short")]
        )
        assert (counts.added, counts.updated, counts.unchanged) == (1, 1, 1)
        assert count_papers(s) == 1


def test_changes_are_visible_by_rev(db: Database) -> None:
    with db.session() as s:
        upsert_papers(s, [rec(f"Paper {i}") for i in range(3)])
    with db.session() as s:
        first_rev = max_rev(s)
        assert [r.title for r in iter_index_rows(s)] == ["Paper 0", "Paper 1", "Paper 2"]
    with db.session() as s:
        upsert_papers(s, [rec("Paper 1", "a longer abstract than before"), rec("Paper 9")])
    with db.session() as s:
        changed = list(iter_index_rows(s, since_rev=first_rev))
        assert {r.title for r in changed} == {"Paper 1", "Paper 9"}
        assert all(r.rev == first_rev + 1 for r in changed)


def test_iter_index_rows_streams_in_chunks(db: Database) -> None:
    with db.session() as s:
        upsert_papers(s, [rec(f"Paper {i}") for i in range(25)])
    with db.session() as s:
        ids = [r.id for r in iter_index_rows(s, chunk=7)]
    assert ids == sorted(ids) and len(ids) == 25


def test_concurrent_writers_get_distinct_ordered_revs(db: Database) -> None:
    """Writers serialize on the write lock, so each transaction's rev is unique."""
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for j in range(5):
                with db.session() as s:
                    upsert_papers(s, [rec(f"w{n} paper {j}")])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with db.session() as s:
        revs = s.scalars(select(Paper.rev)).all()
        assert len(revs) == 20 and len(set(revs)) == 20
        assert s.scalar(select(func.max(Paper.rev))) == 20


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"title": "Nul\x00 title"}, "title contains a NUL character"),
        ({"abstract": "Lone \ud800 surrogate"}, "abstract contains an unpaired surrogate"),
        ({"title": "t" * 1001}, "title is 1,001 characters long .at most 1,000."),
        ({"abstract": "a" * 50_001}, "abstract is 50,001 characters long"),
        ({"authors": ("ok", "bad\x00")}, r"authors\[1\] contains a NUL"),
        ({"authors": ("n",) * 10_001}, "authors lists 10,001 names"),
        ({"authors": ("n" * 1001,)}, r"authors\[0\] is 1,001 characters"),
        ({"url": "https://x.org/" + "u" * 2048}, "url is 2,062 characters"),
        ({"categories": "cs.LG\x00"}, "categories contains a NUL"),
        ({"upvotes": 2**31}, "upvotes must be between 0 and 2,147,483,647"),
        ({"upvotes": -1}, "upvotes must be between 0"),
        ({"upvotes": True}, "upvotes must be a whole number"),
        ({"published": date(1, 1, 1)}, "published date 0001-01-01 is outside"),
        ({"published": date(9999, 12, 31)}, "published date 9999-12-31 is outside"),
    ],
)
def test_record_refuses_what_the_database_would_refuse(
    fields: dict[str, object], message: str
) -> None:
    """Checked when the record is made, so an import refuses the line before any write."""
    kw: dict[str, object] = {"title": "A title", "abstract": "An abstract.", **fields}
    with pytest.raises(ValueError, match=message):
        PaperRecord(source="test", **kw)  # type: ignore[arg-type]


def test_record_turns_control_characters_into_spaces_and_keeps_limits_inclusive() -> None:
    r = rec("Bell\x07and\x1bescape\x7f", "tab\there\x0bvt \x85next", authors=("A.\x01 B",))
    assert (r.title, r.abstract, r.authors) == ("Bell and escape", "tab here vt next", ("A. B",))
    assert title_key(r.title) == title_key("bell and escape")
    edge = rec("t" * 1000, "a" * 50_000, upvotes=2**31 - 1, published=date(1900, 1, 1))
    assert len(edge.title) == 1000 and edge.upvotes == 2**31 - 1


def test_overlong_old_style_arxiv_id_is_not_an_id() -> None:
    """papers.arxiv_id is VARCHAR(40): a longer 'archive/1234567' would fail on PostgreSQL."""
    assert normalize_arxiv_id("a" * 32 + "/1234567") == "a" * 32 + "/1234567"
    assert normalize_arxiv_id("a" * 34 + "/1234567") is None

