"""The reads a search makes of the paper store, behind one small protocol with two readers.

`DatabaseReads` goes through SQLAlchemy (`storage.papers`), on any database: the Slack app,
the importer and the CLI's full path. `SqlitePapers` uses only the standard library's
sqlite3, read-only, on a SQLite file whose schema is at `ALEMBIC_HEAD`: `paperbot search`
answers through it without importing SQLAlchemy (~0.6 s of start-up on a slow machine).

Importing this module imports neither SQLAlchemy nor the ORM models.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable
from urllib.parse import quote

from storage.landing import landing_url

if TYPE_CHECKING:
    from storage.db import Database

# The newest migration in storage/migrations/versions. SqlitePapers reads only a database at
# this revision (its SQL is written for that schema); tests/storage/test_search_reads.py
# checks it against Alembic's head, so a new migration cannot leave it behind.
ALEMBIC_HEAD = "0014_follows"

_CHUNK = 500  # ids per `IN (...)`: far below SQLite's bound-variable limit


@dataclass(frozen=True)
class IndexRow:
    """What the search index needs of a paper: its text and its filter fields (defined here,
    not in storage.papers, so that readers without SQLAlchemy share it)."""

    id: int
    title: str
    abstract: str
    published: date | None
    source: str
    rev: int


@runtime_checkable
class PaperReads(Protocol):
    """What the search engine reads of the papers (see SearchEngine)."""

    # Exceptions meaning "the database cannot be read right now" (the refresher logs them).
    errors: tuple[type[Exception], ...]

    def instance_id(self) -> str | None:
        """The id minted with the schema (None: not minted yet, and this reader cannot)."""
        ...

    def max_rev(self) -> int: ...

    def count(self) -> int: ...

    def texts(self, ids: Sequence[int]) -> dict[int, tuple[str, str]]:
        """{id: (title, abstract)} of the papers asked for (the second stage's reads)."""
        ...

    def index_rows(self, since_rev: int) -> Iterator[IndexRow]:
        """Papers changed after `since_rev`, in id order (a catch-up's reads)."""
        ...


class DatabaseReads:
    """PaperReads through SQLAlchemy: `storage.papers`' functions, one session each."""

    def __init__(self, db: Database) -> None:
        # Imported here: only the full path (which has opened a Database) builds one.
        from sqlalchemy.exc import SQLAlchemyError

        from storage import papers

        self._db = db
        self._papers = papers
        self.errors: tuple[type[Exception], ...] = (SQLAlchemyError,)

    def instance_id(self) -> str:
        return self._db.instance_id()

    def max_rev(self) -> int:
        with self._db.session() as s:
            return self._papers.max_rev(s)

    def count(self) -> int:
        with self._db.session() as s:
            return self._papers.count_papers(s)

    def texts(self, ids: Sequence[int]) -> dict[int, tuple[str, str]]:
        with self._db.session() as s:
            return self._papers.paper_texts(s, ids)

    def index_rows(self, since_rev: int) -> Iterator[IndexRow]:
        with self._db.session() as s:
            rows = list(self._papers.iter_index_rows(s, since_rev))
        for r in rows:
            yield IndexRow(r.id, r.title, r.abstract, r.published, r.source, r.rev)


@dataclass(frozen=True)
class Listing:
    """What `paperbot search` prints of a paper (the ORM Paper has the same attributes)."""

    id: int
    key: str
    arxiv_id: str | None
    title: str
    url: str | None
    pdf_url: str | None
    authors: tuple[str, ...] | None
    published: date | None
    upvotes: int | None
    source: str

    @property
    def link(self) -> str:
        return landing_url(self.url, self.title)


def sqlite_file(url: str) -> Path | None:
    """The file of a plain `sqlite:///path` URL, or None for anything else (another backend,
    `:memory:`, query parameters, %-escapes): those go through SQLAlchemy, which reads such
    URLs its own way."""
    for prefix in ("sqlite:///", "sqlite+pysqlite:///"):
        if url.startswith(prefix):
            path = url.removeprefix(prefix)
            break
    else:
        return None
    if not path or path == ":memory:" or any(c in path for c in "?%#"):
        return None
    return Path(path)


def _date(value: object) -> date | None:
    # SQLAlchemy's SQLite Date is stored as text YYYY-MM-DD.
    return None if value is None else date.fromisoformat(str(value))


class SqlitePapers:
    """PaperReads over the standard library's sqlite3, on a read-only connection.

    It never writes (the file is opened with mode=ro), so it cannot migrate, seed or mint
    an instance id: callers check `schema_version()` and `instance_id()` first and use the
    SQLAlchemy path when either is not what this reader was written for."""

    errors: tuple[type[Exception], ...] = (sqlite3.Error,)

    def __init__(self, path: Path, *, busy_timeout_ms: int = 15_000) -> None:
        uri = f"file:{quote(str(path.absolute()))}?mode=ro"
        self._conn = sqlite3.connect(
            uri, uri=True, timeout=busy_timeout_ms / 1000, check_same_thread=False
        )

    def close(self) -> None:
        self._conn.close()

    def _in(self, sql: str, ids: Sequence[int]) -> Iterator[tuple]:
        """Rows of `sql` (which ends in `IN ({})`) for `ids`, in chunks."""
        ids = list(ids)
        for i in range(0, len(ids), _CHUNK):
            part = ids[i : i + _CHUNK]
            yield from self._conn.execute(sql.format(",".join("?" * len(part))), part)

    def schema_version(self) -> list[str]:
        """The alembic_version rows (one, ALEMBIC_HEAD, on a current database)."""
        return [r[0] for r in self._conn.execute("SELECT version_num FROM alembic_version")]

    def instance_id(self) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'instance_id'").fetchone()
        return row[0] if row and row[0] else None

    def max_rev(self) -> int:
        return self._conn.execute("SELECT max(rev) FROM papers").fetchone()[0] or 0

    def count(self) -> int:
        return self._conn.execute("SELECT count(*) FROM papers").fetchone()[0] or 0

    def texts(self, ids: Sequence[int]) -> dict[int, tuple[str, str]]:
        rows = self._in("SELECT id, title, abstract FROM papers WHERE id IN ({})", ids)
        return {pid: (title, abstract or "") for pid, title, abstract in rows}

    def index_rows(self, since_rev: int) -> Iterator[IndexRow]:
        rows = self._conn.execute(
            "SELECT id, title, abstract, published, source, rev FROM papers "
            "WHERE rev > ? ORDER BY id",
            (since_rev,),
        ).fetchall()
        for pid, title, abstract, published, source, rev in rows:
            yield IndexRow(pid, title, abstract, _date(published), source, rev)

    def listings(self, ids: Sequence[int]) -> list[Listing]:
        """Papers by id, in the order asked (missing ids are dropped), as search prints them."""
        sql = (
            "SELECT id, key, arxiv_id, title, url, pdf_url, authors, published, upvotes, source "
            "FROM papers WHERE id IN ({})"
        )
        found = {}
        for pid, key, arxiv_id, title, url, pdf_url, authors, published, upvotes, source in (
            self._in(sql, ids)
        ):
            names = None if authors is None else json.loads(authors)
            found[pid] = Listing(
                id=pid,
                key=key,
                arxiv_id=arxiv_id,
                title=title,
                url=url,
                pdf_url=pdf_url,
                authors=None if names is None else tuple(names),
                published=_date(published),
                upvotes=upvotes,
                source=source,
            )
        return [found[i] for i in ids if i in found]

    def sources(self) -> list[str]:
        """The distinct `source` values stored (to tell a user which --source exist)."""
        return sorted(r[0] for r in self._conn.execute("SELECT DISTINCT source FROM papers"))
