"""PaperBot's own JSON Lines export (`paperbot export --format jsonl`, `/papers export`),
read back: an export imported into a fresh database gives the same papers.

Each exported line carries "format": "paperbot/1" so detection cannot take it for an
arXiv snapshot line (both have "id" and "abstract"). Exports written before that marker
(an integer row "id" beside "source") are recognised too; the row number is ignored.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bot.importers.errors import RecordError
from bot.importers.jsonfile import parse_json_entries
from bot.importers.records import (
    ParsedItem,
    get_int,
    get_str,
    make_record,
    need_object,
    parse_iso_date,
    type_name,
)
from bot.importers.source import Source
from storage.landing import landing_url
from storage.papers import PaperRecord, normalize_arxiv_id

FORMAT = "paperbot/1"
MAX_SOURCE_CHARS = 32  # the papers.source column
DEFAULT_SOURCE = "import"


def is_export_entry(entry: object) -> bool:
    """A line of our export: the marker, or the shape of an export made before it."""
    if not isinstance(entry, dict):
        return False
    if isinstance(entry.get("format"), str) and entry["format"].startswith("paperbot/"):
        return True
    old_id = entry.get("id")
    return (isinstance(old_id, int) and not isinstance(old_id, bool)
            and {"title", "abstract", "source", "url"} <= entry.keys())


def export_entry_to_record(entry: Any) -> PaperRecord:
    """One exported line -> the PaperRecord it was exported from; RecordError names the field."""
    entry = need_object(entry, "the entry")
    fmt = entry.get("format")
    if fmt is not None and fmt != FORMAT:
        raise RecordError(f"format {fmt!r:.40} is not one this version reads ({FORMAT})")
    title = get_str(entry, "title", "")
    raw_id = get_str(entry, "arxiv_id", "", required=False)
    arxiv_id = normalize_arxiv_id(raw_id) if raw_id else None
    if raw_id and arxiv_id is None:
        raise RecordError(f"arxiv_id is not an arXiv id: {raw_id!r:.40}")
    published = get_str(entry, "published", "", required=False)
    url = get_str(entry, "url", "", required=False) or None
    if url is not None and title is not None and url == landing_url(None, title):
        url = None  # the export's link for a paper with no page: a title search, not stored
    source = get_str(entry, "source", "", required=False) or DEFAULT_SOURCE
    if len(source) > MAX_SOURCE_CHARS:
        raise RecordError(f"source is longer than {MAX_SOURCE_CHARS} characters: {source!r:.40}")
    return make_record(
        title=title,
        abstract=get_str(entry, "abstract", "", required=False) or "",
        source=source,
        authors=_authors(entry.get("authors")),
        arxiv_id=arxiv_id,
        published=parse_iso_date(published, "published") if published else None,
        url=url,
        pdf_url=get_str(entry, "pdf_url", "", required=False) or None,
        code_url=get_str(entry, "code_url", "", required=False) or None,
        upvotes=get_int(entry, "upvotes", ""),
        categories=get_str(entry, "categories", "", required=False) or None,
    )


def _authors(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise RecordError(f"authors must be a list, got {type_name(value)}")
    for i, name in enumerate(value):
        if not isinstance(name, str):
            raise RecordError(f"authors[{i}] must be a string, got {type_name(name)}")
    return tuple(value)


def parse_export(src: Path | Source) -> Iterator[ParsedItem]:
    """Entries of a PaperBot JSONL export (a JSON array of the same objects also works)."""
    if isinstance(src, Path):
        with Source(src) as opened:
            yield from parse_export(opened)
        return
    yield from parse_json_entries(src, export_entry_to_record)
