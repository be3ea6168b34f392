"""New papers are inserted without the ORM (a plain executemany on SQLite): the rows must be
stored exactly as the ORM stores them, and the ids come back in the order of the records."""

from __future__ import annotations

from datetime import date

from sqlalchemy import text

from storage.db import Database
from storage.models import Paper
from storage.papers import PaperRecord, upsert_papers

RAW = (
    "SELECT id, title_key, authors, published, url, pdf_url, upvotes, categories, source, rev, "
    "first_seen, updated_at FROM papers"
)


def test_fast_inserts_store_what_the_orm_stores(db: Database) -> None:
    rec = PaperRecord(
        title="Ünïcode “quoted” title",
        abstract="An abstract.",
        source="arxiv",
        authors=("Zoë Ørsted", "李 雷"),
        arxiv_id="2401.00001",
        published=date(2024, 1, 2),
        upvotes=7,
        categories="cs.LG",
    )
    with db.session() as s:
        (fast_id,) = upsert_papers(s, [rec]).changed_ids
    with db.session() as s:  # the same values written by the ORM, in the same rev
        fast = s.get(Paper, fast_id)
        assert fast is not None
        orm = Paper(
            **{c.key: getattr(fast, c.key) for c in Paper.__table__.columns if c.key != "id"}
        )
        orm.key, orm.arxiv_id = "arxiv:2401.99999", "2401.99999"
        s.add(orm)
        s.flush()
        orm_id = orm.id
    with db.session() as s:
        rows = {i: tuple(r) for i, *r in s.execute(text(RAW))}
    assert rows[fast_id] == rows[orm_id]  # as stored: JSON, date and timestamp formats
    with db.session() as s:
        back = s.get(Paper, fast_id)
        assert back is not None
        assert back.authors == ["Zoë Ørsted", "李 雷"] and back.published == date(2024, 1, 2)
        assert back.first_seen.replace(tzinfo=None) == fast.first_seen.replace(tzinfo=None)


def test_ids_follow_the_records_order_across_batches(db: Database) -> None:
    records = [PaperRecord(title=f"Paper {i}", abstract="x", source="t") for i in range(2500)]
    with db.session() as s:
        first = upsert_papers(s, records[:3]).changed_ids
    with db.session() as s:  # one transaction, three internal batches of up to 1000
        ids = upsert_papers(s, records).changed_ids  # the first 3 are unchanged
    assert len(ids) == 2497 and min(ids) > max(first)
    with db.session() as s:
        titles = dict(s.execute(text("SELECT id, title FROM papers")).all())
    assert [titles[i] for i in first + ids] == [r.title for r in records]
