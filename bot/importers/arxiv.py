"""arXiv metadata snapshot (Kaggle's arxiv-metadata-oai-snapshot.json): one object per line.

Fields are hard-wrapped with newlines and runs of spaces (PaperRecord collapses them).
The published date is the v1 submission date, falling back to `update_date`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import date
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from bot.importers.errors import RecordError
from bot.importers.jsonfile import parse_json_entries
from bot.importers.records import (
    ParsedItem,
    get_str,
    make_record,
    need_object,
    parse_iso_date,
    type_name,
)
from bot.importers.source import Source
from storage.papers import PaperRecord, normalize_arxiv_id

SOURCE = "arxiv"
_AUTHOR_SPLIT = re.compile(r",\s*(?:and\s+)?|\s+and\s+")
# The snapshot's version dates ("Mon, 2 Apr 2007 19:18:42 GMT"): read the day, month and
# year directly (the date in the stamp's own zone, as parsedate_to_datetime(...).date()
# gives); anything else goes through the email parser. A third of parsing time otherwise.
_RFC2822_DATE = re.compile(
    r"(?:[A-Z][a-z]{2}, )?(\d{1,2}) ([A-Z][a-z]{2}) ([1-9]\d{3}) "
    r"(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d GMT"
)
# arXiv's archives, current and retired (old papers keep theirs): a category is an archive
# or archive.SUBJECT (cs.CL, physics.flu-dyn). The snapshot's `categories` field and the API's
# category terms also carry MSC codes (39A05, 35Q30) and ACM classes (I.2.7), which are not.
ARCHIVES = frozenset((
    "astro-ph", "cond-mat", "cs", "econ", "eess", "gr-qc", "hep-ex", "hep-lat", "hep-ph",
    "hep-th", "math", "math-ph", "nlin", "nucl-ex", "nucl-th", "physics", "q-bio", "q-fin",
    "quant-ph", "stat",
    "acc-phys", "adap-org", "alg-geom", "ao-sci", "atom-ph", "bayes-an", "chao-dyn", "chem-ph",
    "cmp-lg", "comp-gas", "dg-ga", "funct-an", "mtrl-th", "patt-sol", "plasm-ph", "q-alg",
    "solv-int", "supr-con",
))
_CATEGORY = re.compile(r"([a-z]+(?:-[a-z]+)?)(?:\.[A-Za-z]+(?:-[A-Za-z]+)*)?")
_TERM_SPLIT = re.compile(r"[\s,;]+")
_MONTHS = {
    m: i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}


def arxiv_entry_to_record(entry: Any) -> PaperRecord:
    """One snapshot line -> PaperRecord(source="arxiv"); RecordError names the bad field."""
    entry = need_object(entry, "the entry")
    raw_id = get_str(entry, "id", "")
    arxiv_id = normalize_arxiv_id(raw_id)
    if arxiv_id is None:
        raise RecordError(f"id is not an arXiv id: {raw_id!r:.40}")
    title = get_str(entry, "title", "")
    abstract = get_str(entry, "abstract", "")
    categories = get_str(entry, "categories", "", required=False)
    return make_record(
        title=title,
        abstract=abstract,
        source=SOURCE,
        authors=_authors(entry),
        arxiv_id=arxiv_id,
        published=_published(entry),
        categories=arxiv_categories(categories or ""),
    )


def arxiv_categories(terms: str | Iterable[str]) -> str | None:
    """The arXiv categories among `terms` (a space/comma-separated string or the API's
    terms), in order, once each, space-separated; None when there are none."""
    words = _TERM_SPLIT.split(terms) if isinstance(terms, str) else terms
    kept: dict[str, None] = {}
    for word in words:
        m = _CATEGORY.fullmatch(word.strip())
        if m is not None and m.group(1) in ARCHIVES:
            kept[m.group()] = None
    return " ".join(kept) or None


def _authors(entry: dict[str, Any]) -> tuple[str, ...]:
    """From `authors_parsed` ([last, first, suffix]) when present, else the `authors` string."""
    parsed = entry.get("authors_parsed")
    if parsed is not None:
        if not isinstance(parsed, list):
            raise RecordError(f"authors_parsed must be a list, got {type_name(parsed)}")
        names = []
        for i, parts in enumerate(parsed):
            if not isinstance(parts, list) or not all(isinstance(p, str) for p in parts):
                raise RecordError(f"authors_parsed[{i}] must be a list of strings")
            last, first, suffix = ([*parts, "", "", ""])[:3]
            name = " ".join(" ".join(p.split()) for p in (first, last, suffix) if p.strip())
            if name:
                names.append(name)
        return tuple(names)
    raw = get_str(entry, "authors", "", required=False)
    if not raw:
        return ()
    return tuple(n for n in (" ".join(a.split()) for a in _AUTHOR_SPLIT.split(raw)) if n)


def _published(entry: dict[str, Any]) -> date | None:
    versions = entry.get("versions")
    if versions is not None and not isinstance(versions, list):
        raise RecordError(f"versions must be a list, got {type_name(versions)}")
    for i, v in enumerate(versions or []):
        v = need_object(v, f"versions[{i}]")
        if v.get("version") in ("v1", None) and v.get("created"):
            created = get_str(v, "created", f"versions[{i}].")
            try:
                m = _RFC2822_DATE.fullmatch(created)  # type: ignore[arg-type]
                if m is not None and m.group(2) in _MONTHS:
                    return date(int(m.group(3)), _MONTHS[m.group(2)], int(m.group(1)))
                return parsedate_to_datetime(created).date()
            except (TypeError, ValueError, OverflowError, IndexError):
                raise RecordError(f"versions[{i}].created is not a date: {created!r:.40}") from None
    updated = get_str(entry, "update_date", "", required=False)
    return parse_iso_date(updated, "update_date") if updated else None


def parse_arxiv(src: Path | Source) -> Iterator[ParsedItem]:
    """Entries of a snapshot JSONL file (a JSON array of the same objects also works)."""
    if isinstance(src, Path):
        with Source(src) as opened:
            yield from parse_arxiv(opened)
        return
    yield from parse_json_entries(src, arxiv_entry_to_record)
