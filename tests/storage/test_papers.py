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
