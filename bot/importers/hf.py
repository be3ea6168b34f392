"""Hugging Face daily-papers entries (the /api/daily_papers shape), as JSON array or JSONL.

`hf_entry_to_record` is the one place that validates and maps an entry; the daily digest
fetcher reuses it for the live API, so a file import and a fetch store the same thing.
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
from storage.papers import (
    MAX_ABSTRACT_CHARS,
    MAX_KEYWORD_CHARS,
    MAX_KEYWORDS,
    MAX_UPVOTES,
    PaperRecord,
    normalize_arxiv_id,
    refused_char,
)

SOURCE = "hf"


def hf_entry_to_record(entry: Any) -> PaperRecord:
    """One daily-papers entry -> PaperRecord(source="hf"); RecordError names the bad field."""
    entry = need_object(entry, "the entry")
    paper = need_object(entry.get("paper"), "paper")
    raw_id = get_str(paper, "id", "paper.")
    arxiv_id = normalize_arxiv_id(raw_id)
    if arxiv_id is None:
        raise RecordError(f"paper.id is not an arXiv id: {raw_id!r:.40}")
    title = get_str(paper, "title", "paper.", required=False) or get_str(
        entry, "title", "", required=False
    )
    if not title or not title.strip():
        raise RecordError("paper.title is missing")
    abstract = get_str(paper, "summary", "paper.", required=False) or ""
    published_raw = get_str(paper, "publishedAt", "paper.", required=False) or get_str(
        entry, "publishedAt", "", required=False
    )
    published = parse_iso_date(published_raw, "publishedAt") if published_raw else None
    code_url = get_str(paper, "githubRepo", "paper.", required=False) or None
    # The Hub's extras: a malformed one is dropped, never the paper with it.
    project_page = _extra_text(paper.get("projectPage"))
    ai_summary = _extra_text(paper.get("ai_summary"))
    comments = entry.get("numComments", paper.get("numComments"))
    return make_record(
        title=title,
        abstract=abstract,
        source=SOURCE,
        authors=_authors(paper.get("authors")),
        arxiv_id=arxiv_id,
        published=published,
        url=f"https://huggingface.co/papers/{arxiv_id}",
        pdf_url=f"https://arxiv.org/pdf/{arxiv_id}",
        code_url=code_url,
        upvotes=get_int(paper, "upvotes", "paper."),
        project_page=project_page,
        ai_summary=ai_summary,
        ai_keywords=_keywords(paper.get("ai_keywords")),
        num_comments=comments if _count(comments) else None,
    )


def _extra_text(value: Any) -> str | None:
    if not isinstance(value, str) or refused_char(value) or len(value) > MAX_ABSTRACT_CHARS:
        return None
    return value.strip() or None


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_UPVOTES


def _keywords(value: Any) -> tuple[str, ...] | None:
    """The Hub's ai_keywords (a list of phrases), the usable ones; None when there are none."""
    if not isinstance(value, list):
        return None
    kept = [
        k for k in value
        if isinstance(k, str) and k.strip() and not refused_char(k)
        and len(k) <= MAX_KEYWORD_CHARS
    ]
    return tuple(kept[:MAX_KEYWORDS]) or None


def _authors(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise RecordError(f"paper.authors must be a list, got {type_name(value)}")
    names = []
    for i, author in enumerate(value):
        if isinstance(author, str):  # tolerated: a plain list of names
            name = author
        else:
            where = f"paper.authors[{i}]"
            name = get_str(need_object(author, where), "name", where + ".")
        if name and name.strip():
            names.append(" ".join(name.split()))
    return tuple(names)


def parse_hf(src: Path | Source) -> Iterator[ParsedItem]:
    """Entries of a daily-papers JSON array or JSONL file."""
    if isinstance(src, Path):
        with Source(src) as opened:
            yield from parse_hf(opened)
        return
    yield from parse_json_entries(src, hf_entry_to_record)
