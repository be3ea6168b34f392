"""storage.papers.announced_on: "papers announced on day D in categories X" (what a channel
subscribed to categories will post), and the day's revisions, on both backends."""

from __future__ import annotations

from datetime import date

from storage.db import Database
from storage.papers import PaperRecord, announced_on, upsert_papers

D = date(2026, 12, 4)


def _rec(arxiv_id: str, cats: str, kind: str, day: date = D, version: int = 1) -> PaperRecord:
    return PaperRecord(title=f"Paper {arxiv_id}", abstract="x", source="arxiv",
                       arxiv_id=arxiv_id, categories=cats, announce_type=kind, announced=day,
                       version=version)


def test_the_days_papers_in_some_categories(db: Database) -> None:
    with db.session() as s:
        upsert_papers(s, [
            _rec("2612.00001", "cs.CL", "new"),
            _rec("2612.00002", "math.OC cs.LG", "cross"),
            _rec("2612.00003", "cs.CV", "new"),
            _rec("2612.00004", "cs.CL", "new", day=date(2026, 12, 3)),
            _rec("2612.00005", "cs.CL cs.AI", "replace", version=2),
            _rec("2612.00006", "cs.CLX", "new"),  # a prefix is not the category
        ])
    with db.session() as s:
        day = [p.arxiv_id for p in announced_on(s, D, ["cs.CL", "cs.LG"])]
        assert day == ["2612.00001", "2612.00002"]
        revised = announced_on(s, D, ["cs.CL"], kinds=("replace", "replace-cross"))
        assert [(p.arxiv_id, p.version) for p in revised] == [("2612.00005", 2)]
        assert announced_on(s, D, []) == []
