"""Step 3, store: the fetched papers go into the library (searchable at once) and come back
as the day's candidates, best first."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from storage import digest as repo
from storage.papers import PaperRecord, upsert_papers

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Candidate:
    paper_id: int
    upvotes: int


def store(services: Services, records: Sequence[PaperRecord]) -> list[Candidate]:
    """Upsert fetched papers (source "hf"), refresh the search index (topics are matched
    against it), and rank them by upvotes (ties: oldest paper id first)."""
    if not records:
        return []
    with services.db.session() as s:
        counts = upsert_papers(s, records)
    with services.db.session() as s:
        ids = repo.paper_ids_by_arxiv(s, (r.arxiv_id for r in records if r.arxiv_id))
    if counts.added or counts.updated:
        services.search.refresh()
    log.info("daily papers stored: %s", counts.summary())
    cands = [
        Candidate(ids[r.arxiv_id], r.upvotes or 0)
        for r in records
        if r.arxiv_id and r.arxiv_id in ids
    ]
    cands.sort(key=lambda c: (-c.upvotes, c.paper_id))
    return cands
