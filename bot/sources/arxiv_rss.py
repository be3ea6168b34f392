"""arXiv's daily announcement feed (https://rss.arxiv.org/rss/cs.CL+cs.LG), as paper records.

One RSS document per fetch, for all the categories asked (joined with "+"). Each item is an
announcement: its description starts "arXiv:2412.01234v2 Announce Type: replace" and goes
on "Abstract: ..."; `arxiv:announce_type` says new, cross, replace or replace-cross;
`dc:creator` lists the authors, comma-separated; `category` elements the paper's categories.
The channel's pubDate is the announcement day. On weekends and holidays arXiv announces
nothing and the feed has no items: that is an empty day, not an error. A document that is
not a well-formed feed raises SourceError, and nothing of it is stored.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from email.utils import parsedate_to_datetime
from typing import Any

import feedparser
import httpx

from bot.importers.arxiv import arxiv_categories
from bot.sources import http
from bot.sources.http import Pacer, SourceError
from storage.papers import ANNOUNCE_TYPES, PaperRecord, normalize_arxiv_id

log = logging.getLogger(__name__)

SOURCE = "arxiv"
# The head of an item's description: "arXiv:2412.01234v2 Announce Type: replace-cross".
_HEAD = re.compile(
    r"^\s*arXiv:(?P<id>\S+?)(?:v(?P<v>\d+))?\s+Announce Type:\s*(?P<type>[a-z-]+)", re.I
)
_ABSTRACT = re.compile(r"\bAbstract:\s*", re.I)
_AUTHOR_SPLIT = re.compile(r",\s*(?:and\s+)?|\s+and\s+")
_VERSION = re.compile(r"v(\d+)$")


@dataclass(frozen=True)
class FeedDay:
    """One fetched feed: the announcement day (None when the feed names none) and its papers."""

    categories: tuple[str, ...]
    announced: date | None
    records: list[PaperRecord]
    skipped: int = 0


def feed_url(base_url: str, categories: Sequence[str]) -> str:
    return f"{base_url.rstrip('/')}/{'+'.join(categories)}"


def fetch_feed(
    base_url: str,
    categories: Sequence[str],
    *,
    pacer: Pacer,
    timeout: httpx.Timeout | float = http.TIMEOUT,
    tries: int = http.TRIES,
    backoff: float = http.BACKOFF,
) -> FeedDay:
    """GET the feed of `categories` (one paced request) and parse it."""
    url = feed_url(base_url, categories)
    with httpx.Client(timeout=timeout, headers={"User-Agent": http.USER_AGENT}) as client:
        body = http.get(client, url, None, pacer=pacer, what=f"arXiv feed {url}",
                        tries=tries, backoff=backoff)
    return parse_feed(body, categories, where=url)


def parse_feed(body: bytes, categories: Sequence[str], *, where: str = "feed") -> FeedDay:
    """The records of one RSS document; SourceError when it is not a usable feed."""
    doc = feedparser.parse(body)
    exc = doc.get("bozo_exception")
    if doc.get("bozo") and not isinstance(exc, feedparser.CharacterEncodingOverride):
        raise SourceError(f"arXiv feed {where} is not a well-formed feed ({exc})")
    if not str(doc.get("version", "")).startswith(("rss", "atom")):
        raise SourceError(f"arXiv feed {where} is not an RSS or Atom feed")
    channel = doc.get("feed", {})
    announced = _day(channel.get("published")) or _day(channel.get("updated"))
    by_id: dict[str, PaperRecord] = {}
    skipped = 0
    for i, entry in enumerate(doc.entries):
        try:
            rec = item_to_record(entry, announced)
        except ValueError as exc:
            skipped += 1
            log.warning("arXiv feed %s item %d skipped: %s", where, i, exc)
            continue
        old = by_id.get(rec.arxiv_id or "")
        if old is None or _rank(rec) < _rank(old):
            by_id[rec.arxiv_id or ""] = rec
    if doc.entries and not by_id:
        raise SourceError(
            f"arXiv feed {where}: none of the {len(doc.entries)} items is usable"
        )
    return FeedDay(tuple(categories), announced, list(by_id.values()), skipped)


def item_to_record(entry: Any, announced: date | None) -> PaperRecord:
    """One feed item -> PaperRecord(source="arxiv"); ValueError names what is wrong."""
    desc = str(entry.get("summary") or entry.get("description") or "")
    head = _HEAD.match(desc)
    raw_id = (head.group("id") if head else "") or _id_from(entry)
    arxiv_id = normalize_arxiv_id(raw_id)
    if arxiv_id is None:
        raise ValueError(f"no arXiv id in the item ({raw_id or entry.get('link')!r:.60})")
    version = int(head.group("v")) if head and head.group("v") else _version_from(entry)
    kind = str(entry.get("arxiv_announce_type") or (head.group("type") if head else "")).lower()
    if kind not in ANNOUNCE_TYPES:
        raise ValueError(f"unknown announce type {kind!r:.30}")
    parts = _ABSTRACT.split(desc, maxsplit=1)
    abstract = parts[1] if len(parts) == 2 else ""
    creators = str(entry.get("author") or "")
    authors = tuple(a for a in (" ".join(n.split()) for n in _AUTHOR_SPLIT.split(creators)) if a)
    terms = [str(t.get("term") or "") for t in entry.get("tags") or []]
    return PaperRecord(
        title=str(entry.get("title") or ""),
        abstract=abstract,
        source=SOURCE,
        authors=authors,
        arxiv_id=arxiv_id,
        # A new paper is first announced today; a cross-list or replacement may be old.
        published=announced if kind == "new" else None,
        url=f"https://arxiv.org/abs/{arxiv_id}",
        pdf_url=f"https://arxiv.org/pdf/{arxiv_id}",
        categories=arxiv_categories(terms),
        version=version,
        announced=announced,
        announce_type=kind,
    )


def _id_from(entry: Any) -> str:
    """The id from the guid (oai:arXiv.org:2412.01234v1) or the link, for a bare item."""
    guid = str(entry.get("id") or "")
    if guid.lower().startswith("oai:arxiv.org:"):
        return guid[len("oai:arXiv.org:"):]
    return str(entry.get("link") or "")


def _version_from(entry: Any) -> int | None:
    m = _VERSION.search(_id_from(entry))
    return int(m.group(1)) if m else None


def _rank(rec: PaperRecord) -> int:
    return ANNOUNCE_TYPES.index(rec.announce_type) if rec.announce_type else 99


def _day(value: object) -> date | None:
    """The calendar day of an RFC 822 date, in its own time zone (arXiv's: US Eastern)."""
    if not value:
        return None
    try:
        return parsedate_to_datetime(str(value)).date()
    except (TypeError, ValueError, IndexError):
        return None
