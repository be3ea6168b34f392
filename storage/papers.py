"""The paper store: identity, idempotent upsert and the reads the search index needs."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from types import SimpleNamespace

from sqlalchemy import func, insert, literal, or_, select
from sqlalchemy.orm import Session

from storage.db import lock_writes
from storage.models import Paper
from storage.search_reads import IndexRow

_ARXIV_NEW = re.compile(r"^(\d{4}\.\d{4,5})(v\d+)?$")
_ARXIV_OLD = re.compile(r"^([a-z\-]+(\.[A-Z]{2})?/\d{7})(v\d+)?$", re.IGNORECASE)
BATCH_SIZE = 1000
_WORD = re.compile(r"\w+")

# Limits on what a paper may hold, checked before anything is written so a file is refused
# (or its bad line skipped) up front instead of failing half-way through an import. The
# text columns are unbounded TEXT, so these are sanity limits, far above real papers.
MAX_TITLE_CHARS = 1_000  # the longest arXiv titles are ~300 characters
MAX_ABSTRACT_CHARS = 50_000  # arXiv caps abstracts at 1,920 characters; room for others
MAX_AUTHORS = 10_000  # the largest collaborations list ~5,200 authors
MAX_AUTHOR_CHARS = 1_000  # one name (arXiv's suffix field sometimes holds affiliations)
MAX_URL_CHARS = 2_048  # the de-facto limit of browsers and of Slack link rendering
MAX_CATEGORIES_CHARS = 1_000  # arXiv category lists are ~10-100 characters
MAX_ARXIV_ID_CHARS = 40  # papers.arxiv_id is VARCHAR(40) (and key "arxiv:<id>" VARCHAR(80))
MAX_UPVOTES = 2**31 - 1  # papers.upvotes is INTEGER: 32-bit signed on PostgreSQL
MAX_VERSION = 10_000  # arXiv versions are v1..v~100; papers.version is INTEGER
MAX_KEYWORDS = 200  # the Hub's ai_keywords lists hold ~10-30 phrases
MAX_KEYWORD_CHARS = 200
# arXiv's announcement kinds, in the order one outranks another on the same day: a paper
# new in cs.CL and cross-listed to cs.LG is "new" that day.
ANNOUNCE_TYPES = ("new", "cross", "replace", "replace-cross")
# Publication dates outside this window are placeholders (0001-01-01, 9999-12-31) or typos.
MIN_PUBLISHED = date(1900, 1, 1)
MAX_PUBLISHED = date(2199, 12, 31)
# What no database column can hold: NUL (PostgreSQL refuses it in text) and unpaired
# UTF-16 surrogates (not encodable as UTF-8, e.g. a lone "\ud800" escape in JSON).
_REFUSED = re.compile("[\x00\ud800-\udfff]")
# Control characters that are not whitespace (str.split already collapses \t\n\r\x0b\x0c,
# \x1c-\x1f and \x85): invisible junk from copy-paste, replaced by a space.
_CONTROL = re.compile("[\x01-\x08\x0e-\x1b\x7f-\x84\x86-\x9f]")


_ARXIV_PREFIX = re.compile(r"^(arxiv:|https?://arxiv\.org/(abs|pdf)/)", re.IGNORECASE)


def normalize_arxiv_id(raw: str | None) -> str | None:
    """'arXiv:2401.01234v2' -> '2401.01234'; None when it is not an arXiv id."""
    if not raw:
        return None
    m = _ARXIV_NEW.match(raw)  # a bare new-style id: the common case, one match (imports)
    if m is not None:
        return m.group(1)
    s = raw.strip()
    s = _ARXIV_PREFIX.sub("", s)
    s = s.removesuffix(".pdf")
    for pattern in (_ARXIV_NEW, _ARXIV_OLD):
        m = pattern.match(s)
        if m:
            # Old-style archive names are open-ended; the column is not.
            return m.group(1) if len(m.group(1)) <= MAX_ARXIV_ID_CHARS else None
    return None


def normalize_title(title: str) -> str:
    if title.isascii():  # the common case, and 20x faster than the unicode path
        return " ".join(_WORD.findall(title.lower()))
    text = unicodedata.normalize("NFKD", title).casefold()
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join(_WORD.findall(text))


def title_key(title: str) -> str:
    return hashlib.sha1(normalize_title(title).encode()).hexdigest()[:32]


def clean_text(s: str) -> str:
    """Collapse the whitespace and line breaks that listings and arXiv put inside fields,
    and turn stray control characters into spaces (they are invisible junk in Slack)."""
    s = " ".join(s.split())
    if not s.isprintable():  # rare: only then is the regex run
        s = " ".join(_CONTROL.sub(" ", s).split())
    return s


def refused_char(value: str) -> str | None:
    """Why no database can store `value` (a NUL, an unpaired surrogate), or None."""
    if value.isascii() and "\x00" not in value:  # both O(1) or memchr-fast: the common case
        return None
    m = _REFUSED.search(value)
    if m is None:
        return None
    ch, at = m.group(), m.start() + 1
    if ch == "\x00":
        return f"contains a NUL character (\\u0000) at position {at}, which cannot be stored"
    return (
        f"contains an unpaired surrogate (\\u{ord(ch):04x}) at position {at}: "
        "not valid Unicode text"
    )


def _text(name: str, value: object, limit: int, *, clean: bool = True) -> str:
    """A text field as stored: no refused characters, cleaned, at most `limit` characters."""
    if not isinstance(value, str):
        raise ValueError(f"{name} must be text, got {type(value).__name__}")
    why = refused_char(value)
    if why:
        raise ValueError(f"{name} {why}")
    text = clean_text(value) if clean else value.strip()
    if len(text) > limit:
        raise ValueError(f"{name} is {len(text):,} characters long (at most {limit:,})")
    return text


def _optional_text(name: str, value: object, limit: int, *, clean: bool = True) -> str | None:
    if value is None:
        return None
    return _text(name, value, limit, clean=clean) or None


@dataclass(frozen=True)
class PaperRecord:
    """A paper as an importer or the daily fetch delivers it, before it is stored."""

    title: str
    abstract: str
    source: str
    authors: tuple[str, ...] = ()
    arxiv_id: str | None = None
    published: date | None = None
    url: str | None = None
    pdf_url: str | None = None
    code_url: str | None = None
    upvotes: int | None = None
    categories: str | None = None
    # arXiv's announcements (bot.sources): latest version, announce date and kind.
    version: int | None = None
    announced: date | None = None
    announce_type: str | None = None
    # The Hub's extra fields (bot.importers.hf).
    project_page: str | None = None
    ai_summary: str | None = None
    ai_keywords: tuple[str, ...] | None = None
    num_comments: int | None = None
    title_key: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Clean the fields and refuse (ValueError naming the field) anything the database
        would refuse or that is absurd, so importers catch it before their first write."""
        put = object.__setattr__
        put(self, "title", _text("title", self.title, MAX_TITLE_CHARS))
        put(self, "abstract", _text("abstract", self.abstract, MAX_ABSTRACT_CHARS))
        put(self, "arxiv_id", normalize_arxiv_id(self.arxiv_id))
        if not self.title:
            raise ValueError("a paper needs a title")
        if len(self.authors) > MAX_AUTHORS:
            raise ValueError(f"authors lists {len(self.authors):,} names (at most {MAX_AUTHORS:,})")
        authors = self.authors
        if authors and not (
            all(isinstance(a, str) for a in authors)
            and "".join(authors).isprintable()  # so no NUL, surrogate or control either
            and max(map(len, authors)) <= MAX_AUTHOR_CHARS
        ):  # the fast check failed: find and name the bad name, and clean the others
            cleaned = [_text(f"authors[{i}]", a, MAX_AUTHOR_CHARS) for i, a in enumerate(authors)]
            put(self, "authors", tuple(a for a in cleaned if a))
        for name in ("url", "pdf_url", "code_url", "project_page"):
            put(self, name, _optional_text(name, getattr(self, name), MAX_URL_CHARS, clean=False))
        put(self, "categories", _optional_text("categories", self.categories, MAX_CATEGORIES_CHARS))
        put(self, "ai_summary", _optional_text("ai_summary", self.ai_summary, MAX_ABSTRACT_CHARS))
        _whole("upvotes", self.upvotes, 0, MAX_UPVOTES)
        _whole("num_comments", self.num_comments, 0, MAX_UPVOTES)
        _whole("version", self.version, 1, MAX_VERSION)
        if self.announce_type is not None and self.announce_type not in ANNOUNCE_TYPES:
            raise ValueError(
                f"announce_type must be one of {', '.join(ANNOUNCE_TYPES)}, "
                f"got {self.announce_type!r:.40}"
            )
        if self.announced is not None and not isinstance(self.announced, date):
            raise ValueError(f"announced must be a date, got {self.announced!r:.40}")
        if self.ai_keywords is not None:
            kws = self.ai_keywords
            if len(kws) > MAX_KEYWORDS:
                raise ValueError(f"ai_keywords lists {len(kws):,} (at most {MAX_KEYWORDS})")
            cleaned = [
                _text(f"ai_keywords[{i}]", k, MAX_KEYWORD_CHARS) for i, k in enumerate(kws)
            ]
            put(self, "ai_keywords", tuple(k for k in cleaned if k))
        pub = self.published
        if pub is not None and not (
            isinstance(pub, date) and MIN_PUBLISHED.year <= pub.year <= MAX_PUBLISHED.year
        ):
            raise ValueError(
                f"published date {pub!s:.40} is outside {MIN_PUBLISHED} to {MAX_PUBLISHED}"
            )
        put(self, "title_key", title_key(self.title))

    @property
    def key(self) -> str:
        return f"arxiv:{self.arxiv_id}" if self.arxiv_id else f"title:{self.title_key}"

    def checked_values(self) -> tuple:
        """The checked fields as a plain tuple (str, int, None; the date as an ordinal), so
        an importer can keep a validated record on disk (marshal) between its two passes."""
        pub = self.published
        return (
            self.title,
            self.abstract,
            self.source,
            self.authors,
            self.arxiv_id,
            pub.toordinal() if pub is not None else None,
            self.url,
            self.pdf_url,
            self.code_url,
            self.upvotes,
            self.categories,
            self.title_key,
            self.version,
            self.announced.toordinal() if self.announced is not None else None,
            self.announce_type,
            self.project_page,
            self.ai_summary,
            self.ai_keywords,
            self.num_comments,
        )

    @classmethod
    def from_checked_values(cls, values: tuple) -> PaperRecord:
        """The record `checked_values` came from, without checking it again.

        Only for tuples made by checked_values() of a record that passed __post_init__:
        redoing the checks was a third of a large import's time.
        """
        (
            title,
            abstract,
            source,
            authors,
            arxiv_id,
            pub,
            url,
            pdf_url,
            code_url,
            upvotes,
            categories,
            tkey,
            version,
            announced,
            announce_type,
            project_page,
            ai_summary,
            ai_keywords,
            num_comments,
        ) = values
        rec = object.__new__(cls)
        rec.__dict__.update(
            title=title,
            abstract=abstract,
            source=source,
            authors=tuple(authors),
            arxiv_id=arxiv_id,
            published=date.fromordinal(pub) if pub is not None else None,
            url=url,
            pdf_url=pdf_url,
            code_url=code_url,
            upvotes=upvotes,
            categories=categories,
            title_key=tkey,
            version=version,
            announced=date.fromordinal(announced) if announced is not None else None,
            announce_type=announce_type,
            project_page=project_page,
            ai_summary=ai_summary,
            ai_keywords=tuple(ai_keywords) if ai_keywords is not None else None,
            num_comments=num_comments,
        )
        return rec

    def links(self) -> dict[str, str | None]:
        url = self.url or (f"https://arxiv.org/abs/{self.arxiv_id}" if self.arxiv_id else None)
        pdf = self.pdf_url or (f"https://arxiv.org/pdf/{self.arxiv_id}" if self.arxiv_id else None)
        return {"url": url, "pdf_url": pdf, "code_url": self.code_url}


def _whole(name: str, value: object, lo: int, hi: int) -> None:
    """Refuse a non-integer or out-of-range count (bool is an int to Python, not to us)."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be a whole number, got {value!r:.40}")
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be between {lo} and {hi:,}, got {value!r:.40}")


@dataclass
class IngestCounts:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    changed_ids: list[int] = field(default_factory=list)

    def __iadd__(self, other: IngestCounts) -> IngestCounts:
        self.added += other.added
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.skipped += other.skipped
        self.changed_ids.extend(other.changed_ids)
        return self

    def summary(self) -> str:
        return (
            f"added {self.added}, updated {self.updated}, "
            f"unchanged {self.unchanged}, skipped {self.skipped}"
        )


def _merged_values(row: Paper, rec: PaperRecord) -> dict[str, object]:
    """What the row should become. Merging is monotone (fuller text, more authors, more
    upvotes, missing fields filled), so re-imports and duplicates within a file are no-ops."""
    links = rec.links()
    out: dict[str, object] = {}
    if rec.title_key != row.title_key:  # matched by arXiv id: the title was revised
        out["title"] = rec.title
        out["title_key"] = rec.title_key
    if len(rec.abstract) > len(row.abstract or ""):
        out["abstract"] = rec.abstract
    if len(rec.authors) > len(row.authors or []):
        out["authors"] = list(rec.authors)
    if rec.arxiv_id and not row.arxiv_id:
        out["arxiv_id"] = rec.arxiv_id
        out["key"] = rec.key
    if rec.upvotes is not None and rec.upvotes > (row.upvotes or 0):
        out["upvotes"] = rec.upvotes
    if rec.num_comments is not None and rec.num_comments > (row.num_comments or 0):
        out["num_comments"] = rec.num_comments
    if rec.version is not None and rec.version > (row.version or 0):
        out["version"] = rec.version
    if rec.announced is not None and _later_announcement(row, rec):
        out["announced"] = rec.announced
        out["announce_type"] = rec.announce_type
    if rec.categories and row.categories:
        merged = " ".join(dict.fromkeys([*row.categories.split(), *rec.categories.split()]))
        if merged != row.categories:
            out["categories"] = merged
    for name, value in (
        ("published", rec.published),
        ("categories", rec.categories),
        ("url", links["url"]),
        ("pdf_url", links["pdf_url"]),
        ("code_url", links["code_url"]),
        ("project_page", rec.project_page),
        ("ai_summary", rec.ai_summary),
    ):
        if value is not None and getattr(row, name) is None:
            out[name] = value
    if rec.ai_keywords and not row.ai_keywords:
        out["ai_keywords"] = list(rec.ai_keywords)
    return out


def _later_announcement(row: Paper, rec: PaperRecord) -> bool:
    """Whether `rec` announces the paper after what the row records (a later day, or the
    same day as a higher-ranked kind: "new" over "cross"), so re-reading a feed, an older
    backfill or the other category's cross-listing never moves the row back."""
    if row.announced is None or rec.announced > row.announced:  # type: ignore[operator]
        return True
    if rec.announced < row.announced:  # type: ignore[operator]
        return False
    rank = {t: i for i, t in enumerate(ANNOUNCE_TYPES)}
    return rank.get(rec.announce_type or "", 99) < rank.get(row.announce_type or "", 99)


def upsert_papers(
    session: Session,
    records: Iterable[PaperRecord],
    *,
    inserted: list[int] | None = None,
) -> IngestCounts:
    """Insert new papers and update known ones, in batches, inside the caller's transaction.

    Idempotent: the same records twice change nothing the second time. Matching is by
    arXiv id first, then by normalized title (so a listing entry gains its arXiv id later).
    `inserted`, if given, receives the ids of the papers this call inserted, ascending
    (an importer hands them to the search index build: bot.search.workers.Prebuild).
    """
    counts = IngestCounts()
    batch: list[PaperRecord] = []
    for rec in records:
        batch.append(rec)
        if len(batch) >= BATCH_SIZE:
            counts += _upsert_batch(session, batch, inserted)
            batch = []
    if batch:
        counts += _upsert_batch(session, batch, inserted)
    return counts


def _next_rev(session: Session) -> int:
    """One new rev per transaction; callers hold the writers' lock, so revs commit in order."""
    rev = session.info.get("paperbot_rev")
    if rev is None:
        lock_writes(session)
        rev = (session.scalar(select(func.max(Paper.rev))) or 0) + 1
        session.info["paperbot_rev"] = rev
    return rev


def _upsert_batch(
    session: Session, batch: Sequence[PaperRecord], inserted: list[int] | None = None
) -> IngestCounts:
    """Updates go through the ORM rows; new papers are inserted in one executemany, since
    building ORM objects for them was most of a large import's time."""
    counts = IngestCounts()
    rev = _next_rev(session)
    now = datetime.now(UTC)
    existing = _existing(session, batch)
    # Known papers: stored rows, and rows this batch is about to insert (SimpleNamespace).
    by_arxiv: dict[str, Paper | SimpleNamespace] = {p.arxiv_id: p for p in existing if p.arxiv_id}
    by_title: dict[str, Paper | SimpleNamespace] = {}
    for p in existing:
        by_title.setdefault(p.title_key, p)
    updated: dict[int, None] = {}
    new_rows: list[SimpleNamespace] = []

    for rec in batch:
        row = by_arxiv.get(rec.arxiv_id) if rec.arxiv_id else None
        if row is None:
            cand = by_title.get(rec.title_key)
            # A title match is the same paper unless both carry different arXiv ids.
            if cand is not None and not (cand.arxiv_id and rec.arxiv_id):
                row = cand
        if row is None:
            row = SimpleNamespace(
                key=rec.key,
                arxiv_id=rec.arxiv_id,
                title_key=rec.title_key,
                title=rec.title,
                abstract=rec.abstract,
                authors=list(rec.authors),
                published=rec.published,
                upvotes=rec.upvotes,
                categories=rec.categories,
                version=rec.version,
                announced=rec.announced,
                announce_type=rec.announce_type,
                project_page=rec.project_page,
                ai_summary=rec.ai_summary,
                ai_keywords=list(rec.ai_keywords) if rec.ai_keywords is not None else None,
                num_comments=rec.num_comments,
                source=rec.source,
                first_seen=now,
                updated_at=now,
                rev=rev,
                **rec.links(),
            )
            new_rows.append(row)
            counts.added += 1
        else:
            changes = _merged_values(row, rec)  # type: ignore[arg-type]
            if not changes:
                counts.unchanged += 1
                continue
            for name, value in changes.items():
                setattr(row, name, value)
            row.updated_at = now
            row.rev = rev
            if isinstance(row, Paper):
                updated[row.id] = None
            counts.updated += 1
        if row.arxiv_id:
            by_arxiv[row.arxiv_id] = row
        by_title[row.title_key] = row
    session.flush()
    counts.changed_ids.extend(updated)
    if new_rows:
        ids = _insert_new(session, new_rows)
        counts.changed_ids.extend(ids)
        if inserted is not None:
            inserted.extend(ids)
    return counts


def _existing(session: Session, batch: Sequence[PaperRecord]) -> Sequence[Paper]:
    """The stored papers that records of `batch` may match (by arXiv id or title key).

    Their ids are looked up first, and only those rows loaded as ORM objects: in a large
    import most batches match nothing, and the ORM query cost more than the lookup (on
    SQLite the lookup goes straight to the DB-API cursor)."""
    arxiv_ids = list({r.arxiv_id for r in batch if r.arxiv_id})
    tkeys = list({r.title_key for r in batch})
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        sql = f"SELECT id FROM papers WHERE title_key IN ({','.join('?' * len(tkeys))})"
        if arxiv_ids:
            sql += f" OR arxiv_id IN ({','.join('?' * len(arxiv_ids))})"
        cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            ids = [r[0] for r in cur.execute(sql, (*tkeys, *arxiv_ids))]
        finally:
            cur.close()
    else:
        clauses = [Paper.title_key.in_(tkeys)]
        if arxiv_ids:
            clauses.append(Paper.arxiv_id.in_(arxiv_ids))
        ids = list(session.scalars(select(Paper.id).where(or_(*clauses))))
    if not ids:
        return []
    return session.scalars(select(Paper).where(Paper.id.in_(ids)).order_by(Paper.id)).all()


def _insert_new(session: Session, rows: Sequence[SimpleNamespace]) -> list[int]:
    """Insert new papers; their ids in the order of `rows`.

    On SQLite one plain executemany on the DB-API cursor, with the values converted by the
    columns' own SQLAlchemy bind processors (so rows read back exactly as if the ORM had
    written them): SQLAlchemy's RETURNING batches cost more than SQLite's insert itself.
    The ids are the rows above the largest id before the insert: the caller holds the
    writers' lock (_next_rev), so no other writer adds papers in between. PostgreSQL keeps
    SQLAlchemy's INSERT .. RETURNING (one round trip per batch there).
    """
    conn = session.connection()
    if conn.dialect.name != "sqlite":
        return list(
            session.scalars(
                insert(Paper).returning(Paper.id, sort_by_parameter_order=True),
                [vars(r) for r in rows],
            ).all()
        )
    table = Paper.__table__
    cols = [c for c in table.columns if not c.primary_key]
    names = [c.name for c in cols]
    # Column by column (a list comprehension each), each converted by its bind processor;
    # a value shared by every row (the batch's timestamp) is converted once.
    columns: list[list[object]] = []
    dicts = [vars(r) for r in rows]
    for c in cols:
        name = c.name
        values = [d[name] for d in dicts]
        proc = c.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
        if proc is not None:
            first = values[0]
            if isinstance(first, datetime) and all(v is first for v in values):
                values = [proc(first)] * len(values)
            else:
                values = [None if v is None else proc(v) for v in values]
        columns.append(values)
    params = list(zip(*columns, strict=True))
    del columns
    cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        before = cur.execute(f"SELECT max(id) FROM {table.name}").fetchone()[0] or 0
        cur.executemany(
            f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
            params,
        )
        ids = [
            r[0]
            for r in cur.execute(f"SELECT id FROM {table.name} WHERE id > ? ORDER BY id", (before,))
        ]
    finally:
        cur.close()
    if len(ids) != len(rows):  # cannot happen under the writers' lock; refuse to guess
        raise RuntimeError(f"inserted {len(rows)} papers but found {len(ids)} new ids")
    return ids


def get_papers(session: Session, ids: Sequence[int]) -> list[Paper]:
    """Papers by id, in the order asked (missing ids are dropped)."""
    if not ids:
        return []
    rows = {p.id: p for p in session.scalars(select(Paper).where(Paper.id.in_(list(ids))))}
    return [rows[i] for i in ids if i in rows]


def get_paper(session: Session, paper_id: int) -> Paper | None:
    return session.get(Paper, paper_id)


def paper_texts(session: Session, ids: Sequence[int]) -> dict[int, tuple[str, str]]:
    """{id: (title, abstract)} of the papers asked for (the search's second stage reads
    only these columns, not whole rows)."""
    if not ids:
        return {}
    rows = session.execute(
        select(Paper.id, Paper.title, Paper.abstract).where(Paper.id.in_(list(ids)))
    )
    return {pid: (title, abstract or "") for pid, title, abstract in rows}


def announced_on(
    session: Session,
    day: date,
    categories: Sequence[str],
    kinds: Sequence[str] = ("new", "cross"),
) -> list[Paper]:
    """Papers whose latest arXiv announcement was on `day`, of one of `kinds`, in any of
    `categories` (a subscription's day: new papers and cross-lists, each paper once; pass
    ("replace", "replace-cross") for the day's revisions), oldest id first."""
    if not categories:
        return []
    padded = literal(" ") + Paper.categories + literal(" ")
    q = (
        select(Paper)
        .where(Paper.announced == day, Paper.announce_type.in_(list(kinds)))
        .where(or_(*(padded.like(f"% {c} %") for c in categories)))
        .order_by(Paper.id)
    )
    return list(session.scalars(q))


def count_papers(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Paper)) or 0


def max_rev(session: Session) -> int:
    return session.scalar(select(func.max(Paper.rev))) or 0


def iter_index_rows(session: Session, since_rev: int = 0, chunk: int = 5000) -> Iterator[IndexRow]:
    """Papers changed after `since_rev` (all of them for 0), in id order, streamed."""
    cols = (Paper.id, Paper.title, Paper.abstract, Paper.published, Paper.source, Paper.rev)
    if since_rev:
        # Catch-up reads are small and use the rev index instead of walking every id.
        q = select(*cols).where(Paper.rev > since_rev).order_by(Paper.id)
        for r in session.execute(q):
            yield IndexRow(*r)
        return
    yield from iter_index_rows_between(session, 0, None, chunk)


def index_versions(session: Session) -> tuple[list[int], list[int]]:
    """(ids, revs) of every paper, in id order: which version of each paper an index build
    would read, without reading the text (a paper's rev changes whenever it does)."""
    ids: list[int] = []
    revs: list[int] = []
    for pid, rev in session.execute(select(Paper.id, Paper.rev).order_by(Paper.id)):
        ids.append(pid)
        revs.append(rev)
    return ids, revs


def iter_index_rows_between(
    session: Session, first_id: int, last_id: int | None, chunk: int = 5000
) -> Iterator[IndexRow]:
    """Papers with first_id <= id <= last_id (no upper bound for None), in id order,
    streamed in chunks (keyset paging: each chunk starts after the last id read)."""
    cols = (Paper.id, Paper.title, Paper.abstract, Paper.published, Paper.source, Paper.rev)
    last = first_id - 1
    while True:
        q = select(*cols).where(Paper.id > last)
        if last_id is not None:
            q = q.where(Paper.id <= last_id)
        rows = session.execute(q.order_by(Paper.id).limit(chunk)).all()
        if not rows:
            return
        for r in rows:
            yield IndexRow(*r)
        last = rows[-1][0]
