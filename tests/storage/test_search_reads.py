"""The sqlite3 reader reads what the SQLAlchemy path reads, at the schema it was written for."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from storage.db import Database
from storage.migrate import alembic_config
from storage.papers import PaperRecord, get_papers, upsert_papers
from storage.search_reads import (
    ALEMBIC_HEAD,
    DatabaseReads,
    PaperReads,
    SqlitePapers,
    sqlite_file,
)

RECORDS = [
    PaperRecord(
        title="Speculative decoding: draft, verify, accept",
        abstract="Draft tokens are verified in one pass.",
        source="arxiv",
        authors=("Ada Lovelace", "Émile Zola"),
        arxiv_id="2401.01234",
        published=date(2024, 1, 3),
        url="https://arxiv.org/abs/2401.01234",
        pdf_url="https://arxiv.org/pdf/2401.01234",
        upvotes=42,
        categories="cs.CL",
    ),
    PaperRecord(
        title="No links, no date, no authors & a long title " * 6, abstract="", source="sample"
    ),
    PaperRecord(title="KV cache compression", abstract="Quantized keys.", source="hf", upvotes=0),
]


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'p.db'}")
    database.migrate()
    with database.session() as s:
        upsert_papers(s, RECORDS)
    database.instance_id()
    yield database
    database.dispose()


@pytest.fixture
def reads(db: Database) -> Iterator[SqlitePapers]:
    path = sqlite_file(db.url)
    assert path is not None
    r = SqlitePapers(path)
    yield r
    r.close()


def test_alembic_head_constant_is_alembic_s_head(db: Database) -> None:
    """A new migration must move ALEMBIC_HEAD too, or the read-only path would read a schema
    it was not written for (this fails until it does)."""
    assert ScriptDirectory.from_config(alembic_config(db)).get_current_head() == ALEMBIC_HEAD


def test_a_migrated_database_is_at_the_constant(reads: SqlitePapers) -> None:
    assert reads.schema_version() == [ALEMBIC_HEAD]


def test_both_readers_read_the_same(db: Database, reads: SqlitePapers) -> None:
    orm = DatabaseReads(db)
    assert isinstance(reads, PaperReads) and isinstance(orm, PaperReads)
    assert reads.instance_id() == orm.instance_id() is not None
    assert (reads.max_rev(), reads.count()) == (orm.max_rev(), orm.count()) == (1, 3)
    ids = [3, 1, 2, 99]
    assert reads.texts(ids) == orm.texts(ids)
    assert reads.texts(ids)[2] == (RECORDS[1].title, "")
    assert list(reads.index_rows(0)) == list(orm.index_rows(0))
    assert list(reads.index_rows(1)) == list(orm.index_rows(1)) == []
    assert next(reads.index_rows(0)).published == date(2024, 1, 3)


def test_listings_show_what_the_orm_papers_show(db: Database, reads: SqlitePapers) -> None:
    """Every attribute `paperbot search` prints, equal to the ORM Paper's (link included)."""
    ids = [2, 3, 1, 99]
    with db.session() as s:
        expected = get_papers(s, ids)
        listed = reads.listings(ids)
        assert [p.id for p in listed] == [p.id for p in expected] == [2, 3, 1]
        for mine, orm in zip(listed, expected, strict=True):
            for name in (
                "id", "key", "arxiv_id", "title", "url", "pdf_url", "published", "upvotes",
                "source", "link",
            ):
                assert getattr(mine, name) == getattr(orm, name), name
            assert list(mine.authors or []) == list(orm.authors or [])
    assert reads.sources() == ["arxiv", "hf", "sample"]


def test_many_ids_are_read_in_chunks(db: Database, reads: SqlitePapers) -> None:
    ids = list(range(1, 2000))
    assert set(reads.texts(ids)) == {1, 2, 3}
    assert [p.id for p in reads.listings(ids)] == [1, 2, 3]


def test_the_reader_cannot_write(reads: SqlitePapers) -> None:
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        reads._conn.execute("UPDATE meta SET value = value")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:////abs/p.db", Path("/abs/p.db")),
        ("sqlite:///rel/p.db", Path("rel/p.db")),
        ("sqlite+pysqlite:////abs/p.db", Path("/abs/p.db")),
        ("sqlite://", None),
        ("sqlite:///:memory:", None),
        ("sqlite:////abs/p.db?timeout=3", None),
        ("sqlite:////abs/a%20b.db", None),
        ("postgresql://u@h/db", None),
    ],
)
def test_only_plain_sqlite_file_urls_are_read_directly(url: str, expected: Path | None) -> None:
    assert sqlite_file(url) == expected
