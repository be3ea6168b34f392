"""What a PaperBot process holds once: settings, the database and the search engine.

Built by `Services.create()` (never at import time) and handed to the app factory, the
CLI and the scheduler, so tests can build as many independent instances as they need.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import select

from bot.config import Config
from bot.search.engine import SearchEngine, SearchPage
from storage.db import Database
from storage.models import Paper
from storage.papers import get_papers

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Found:
    page: SearchPage
    papers: list[tuple[Paper, float]]


@dataclass
class Services:
    config: Config
    db: Database
    search: SearchEngine = field(init=False)

    def __post_init__(self) -> None:
        self.search = SearchEngine(self.db, self.config.index_dir)

    @classmethod
    def create(cls, config: Config | None = None, *, seed: bool | None = None) -> Services:
        """Open the database, bring its schema up to date and seed an empty one if allowed.

        `seed` defaults to `config.seed_sample_corpus` (on for the embedded database only),
        so a configured DATABASE_URL whose database was lost is never quietly refilled with
        the sample corpus; it is reported instead.
        """
        config = config or Config.from_env()
        db = Database(config.database_url, busy_timeout_ms=config.db_busy_timeout_ms)
        created = db.migrate()
        services = cls(config=config, db=db)
        if config.seed_sample_corpus if seed is None else seed:
            from bot.importers.sample import seed_sample_corpus

            added = seed_sample_corpus(db)
            if added:
                log.warning(
                    "new database at %s: loaded the bundled sample corpus (%d papers)",
                    db.safe_url, added,
                )
        elif created and not config.embedded_database:
            log.warning(
                "created a new, EMPTY database at %s (DATABASE_URL is set, so the sample "
                "corpus is not loaded). If you expected your papers there, check DATABASE_URL "
                "(a deleted SQLite file, a wrong host or database name).",
                db.safe_url,
            )
        return services

    def find(
        self,
        query: str,
        *,
        limit: int = 10,
        offset: int = 0,
        explain: bool = False,
        **filters: object,
    ) -> Found:
        """Rank papers for `query` (both stages: see SearchEngine.ranked) and load them;
        raises search.engine.QueryError on bad input."""
        page = self.search.ranked(query, limit=limit, offset=offset, explain=explain, **filters)  # type: ignore[arg-type]
        with self.db.session() as s:
            papers = get_papers(s, [h.paper_id for h in page.hits])
        scores = {h.paper_id: h.score for h in page.hits}
        return Found(page=page, papers=[(p, scores[p.id]) for p in papers])

    def sources(self) -> list[str]:
        """The distinct `source` values stored (to tell a user which --source exist)."""
        with self.db.session() as s:
            return sorted(s.scalars(select(Paper.source).distinct()))

    def close(self) -> None:
        """Stop the search engine's background work, then release database connections
        (in that order: a refresher mid-query needs its connection)."""
        self.search.close()
        self.db.dispose()
