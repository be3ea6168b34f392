"""What a PaperBot process holds once: settings, the database and the search engine.

Built by `Services.create()` (never at import time) and handed to the app factory, the
CLI and the scheduler, so tests can build as many independent instances as they need.

`open_search_only()` is `paperbot search`'s quick path: when the database is a current
SQLite file with a current saved index, it answers through the standard library's sqlite3
(read-only) and the same SearchEngine, without importing SQLAlchemy, Alembic or the ORM
models (most of the command's start-up time). This module imports none of them at the top.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from bot.config import Config
from bot.search.engine import SearchEngine, SearchPage
from bot.search.persist import StaleIndex
from storage.search_reads import ALEMBIC_HEAD, Listing, SqlitePapers, sqlite_file

if TYPE_CHECKING:
    from storage.db import Database
    from storage.models import Paper

log = logging.getLogger(__name__)

P = TypeVar("P")


@dataclass(frozen=True)
class Found(Generic[P]):
    """A ranked page and its papers, best first: ORM Papers from Services, Listings from
    SearchOnly (both have what `paperbot search` prints)."""

    page: SearchPage
    papers: list[tuple[P, float]]


def _found(page: SearchPage, papers: Sequence[Any]) -> Found[Any]:
    scores = {h.paper_id: h.score for h in page.hits}
    return Found(page=page, papers=[(p, scores[p.id]) for p in papers])


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
        from storage.db import Database

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
    ) -> Found[Paper]:
        """Rank papers for `query` (both stages: see SearchEngine.ranked) and load them;
        raises search.engine.QueryError on bad input."""
        from storage.papers import get_papers

        page = self.search.ranked(query, limit=limit, offset=offset, explain=explain, **filters)  # type: ignore[arg-type]
        with self.db.session() as s:
            papers = get_papers(s, [h.paper_id for h in page.hits])
        return _found(page, papers)

    def sources(self) -> list[str]:
        """The distinct `source` values stored (to tell a user which --source exist)."""
        from sqlalchemy import select

        from storage.models import Paper

        with self.db.session() as s:
            return sorted(s.scalars(select(Paper.source).distinct()))

    def close(self) -> None:
        """Stop the search engine's background work, then release database connections
        (in that order: a refresher mid-query needs its connection)."""
        self.search.close()
        self.db.dispose()


@dataclass
class SearchOnly:
    """What `paperbot search` needs (find, sources, search), read-only over sqlite3.

    Built by `open_search_only` only when nothing needs writing; a search through it that
    meets one of `UNAVAILABLE` (the database or the saved index changed under it) has printed
    nothing yet, and the caller answers through Services instead."""

    UNAVAILABLE: ClassVar[tuple[type[Exception], ...]] = (StaleIndex, sqlite3.Error)

    config: Config
    reads: SqlitePapers
    search: SearchEngine

    def find(
        self,
        query: str,
        *,
        limit: int = 10,
        offset: int = 0,
        explain: bool = False,
        **filters: object,
    ) -> Found[Listing]:
        """As Services.find, with Listings (the columns search prints) for Papers."""
        page = self.search.ranked(query, limit=limit, offset=offset, explain=explain, **filters)  # type: ignore[arg-type]
        return _found(page, self.reads.listings([h.paper_id for h in page.hits]))

    def sources(self) -> list[str]:
        return self.reads.sources()

    def close(self) -> None:
        self.search.close()
        self.reads.close()


def open_search_only(config: Config, *, seed: bool) -> SearchOnly | None:
    """A read-only search over the SQLite file, or None (with the reason at DEBUG) when only
    Services can answer: another backend, no database file yet, a schema that is not at
    ALEMBIC_HEAD (an upgrade is due), an empty library that `seed` would fill, no instance
    id yet, or a saved index that is missing, unfit or behind the database. The index is
    loaded here, so a search through the result reads only papers."""
    path = sqlite_file(config.database_url)
    if path is None or not path.is_file():
        log.debug("read-only search not possible: no SQLite file at %s", path or "that URL")
        return None
    try:
        reads = SqlitePapers(path, busy_timeout_ms=config.db_busy_timeout_ms)
    except sqlite3.Error as exc:
        log.debug("read-only search not possible: cannot open %s: %s", path, exc)
        return None
    engine = SearchEngine(reads, config.index_dir, refresh_interval=None)
    try:
        if (version := reads.schema_version()) != [ALEMBIC_HEAD]:
            why = f"schema at {version}, the code at {ALEMBIC_HEAD}"
        elif seed and not reads.count():
            why = "an empty library, to be seeded"
        elif reads.instance_id() is None:
            why = "no instance id yet"
        elif not engine.saved_index_is_current():
            why = f"the saved index in {config.index_dir} is missing, unfit or behind"
        else:
            engine.warm()
            return SearchOnly(config=config, reads=reads, search=engine)
    except SearchOnly.UNAVAILABLE as exc:
        why = f"{type(exc).__name__}: {exc}"
    log.debug("read-only search not possible: %s", why)
    engine.close()
    reads.close()
    return None
