"""`paperbot fetch-arxiv` and `paperbot backfill-arxiv`: fetch, store, index, report.

Plain functions over Services (the CLI and, later, the scheduler call them): papers are
upserted by bare arXiv id (storage.papers), then the search index is refreshed so they are
found at once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from bot.follows.notify import NotifyReport, notify_new_papers, notify_stored
from bot.sources.arxiv_oai import fetch_pages
from bot.sources.arxiv_rss import fetch_feed
from bot.sources.pacing import arxiv_pacer
from storage.papers import IngestCounts, PaperRecord, upsert_papers

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)


def _notices(notices: NotifyReport | None) -> str:
    """'; notices: 1 for follows and alerts', or nothing when there were none."""
    return f"; {notices.render()}" if notices is not None and not notices.quiet else ""


@dataclass(frozen=True)
class FetchReport:
    categories: tuple[str, ...]
    announced: date | None
    counts: IngestCounts
    skipped: int
    notices: NotifyReport | None = None  # None: no Slack credentials, nothing was told

    def render(self, *, notices: bool = True) -> str:
        """`notices=False`: the caller reports the notices itself (the digest cycle sums
        them with its own)."""
        cats = ", ".join(self.categories)
        c = self.counts
        line = f"{c.added} new, {c.updated} updated papers in {cats}"
        if self.announced is None and not (c.added or c.updated or c.unchanged):
            line += " (the feed announces nothing: normal on weekends and holidays)"
        elif self.announced is None:
            line += " (the feed names no announcement date)"
        else:
            line += f" (announced {self.announced.isoformat()})"
        if self.skipped:
            line += f"; {self.skipped} unusable item{'s' if self.skipped != 1 else ''} skipped"
        return line + (_notices(self.notices) if notices else "")


def store_records(services: Services, records: Sequence[PaperRecord]) -> IngestCounts:
    """One transaction; the search index catches up when anything changed."""
    if not records:
        return IngestCounts()
    with services.db.session() as s:
        counts = upsert_papers(s, records)
    if counts.added or counts.updated:
        services.search.refresh()
    return counts


def fetch_arxiv(
    services: Services, categories: Sequence[str], *, poster: Any = None
) -> FetchReport:
    """The day's announcements in `categories` (one feed request), stored; follows,
    alerts and revisions told through `poster` (the digest cycle's), else through the
    configured Slack credentials when there are any."""
    day = fetch_feed(services.config.arxiv_rss_url, categories, pacer=arxiv_pacer(services))
    counts = store_records(services, day.records)
    ids = _ids_of(services, day.records)
    notices = (
        notify_new_papers(services, poster, ids) if poster is not None
        else notify_stored(services, ids)
    )
    log.info("arXiv feed %s: %s", "+".join(categories), counts.summary())
    return FetchReport(tuple(categories), day.announced, counts, day.skipped, notices)


@dataclass
class BackfillReport:
    category: str
    since: date
    until: date | None
    pages: int = 0
    seen: int = 0
    skipped: int = 0
    counts: IngestCounts | None = None
    notices: NotifyReport | None = None

    def render(self) -> str:
        c = self.counts or IngestCounts()
        window = f"{self.since}..{self.until or 'today'}"
        line = (
            f"{c.added} new, {c.updated} updated papers in {self.category} ({window}; "
            f"{self.pages} page{'s' if self.pages != 1 else ''}, "
            f"{self.seen} records in the archive)"
        )
        if self.skipped:
            line += f"; {self.skipped} unusable record{'s' if self.skipped != 1 else ''} skipped"
        return line + _notices(self.notices)


def backfill_arxiv(
    services: Services, category: str, since: date, until: date | None = None
) -> BackfillReport:
    """Every record of `category` changed in the window; each page stored as it arrives,
    so an interrupted backfill keeps what it got (rerunning it changes nothing twice)."""
    report = BackfillReport(category, since, until, counts=IngestCounts())
    pages = fetch_pages(services.config.arxiv_oai_url, category, since, until,
                        pacer=arxiv_pacer(services))
    for page in pages:
        report.pages += 1
        report.seen += page.seen
        report.skipped += page.skipped
        if page.records:
            with services.db.session() as s:
                assert report.counts is not None
                report.counts += upsert_papers(s, page.records)
    assert report.counts is not None
    if report.counts.added or report.counts.updated:
        services.search.refresh()
    report.notices = notify_stored(services, report.counts.changed_ids)
    return report


def _ids_of(services: Services, records: Sequence[PaperRecord]) -> list[int]:
    """The stored ids of the feed's papers (all of them: a rerun after a crash between the
    store and the notices still finds the ones not yet announced)."""
    from storage.digest import paper_ids_by_arxiv

    with services.db.session() as s:
        return list(paper_ids_by_arxiv(s, (r.arxiv_id for r in records if r.arxiv_id)).values())
