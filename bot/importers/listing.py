"""The team's plain-text listing: a page header, then title line / abstract line pairs.

This is text copied from the Hugging Face papers pages, so the top carries page chrome
("Get trending papers in your email inbox!", "Subscribe", "Daily Papers", "Aug 19", ...),
and "Subscribe" may be glued to the first title. Blank lines carry no meaning.

Pairing is positional, so a title that lost its abstract would shift every later pair;
each line is therefore checked for looking like what its position expects, and a
mismatch is reported at the line where the pairing broke.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from bot.importers.errors import RecordError
from bot.importers.records import ParsedItem, make_record
from bot.importers.source import Source

SOURCE = "listing"
_HEADER_LINES = {
    "get trending papers in your email inbox once a day!",
    "get trending papers in your email inbox!",
    "subscribe",
    "new",
    "daily papers",
    "byak and the research community",
    "by ak and the research community",
    "trending papers",
}
_DATE_LINE = re.compile(
    r"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.? \d{1,2}(,? \d{4})?",
    re.IGNORECASE,
)
_GLUED_SUBSCRIBE = re.compile(r"^Subscribe(?=[A-Z0-9\"'(\[])")
MAX_TITLE_CHARS = 300
MIN_ABSTRACT_WORDS = 12
SURE_ABSTRACT_CHARS = 200


def is_header_line(text: str) -> bool:
    """Page chrome copied along with the papers (only ever looked for between entries)."""
    t = text.strip().lower()
    return t in _HEADER_LINES or bool(_DATE_LINE.fullmatch(t))


def looks_like_abstract(text: str) -> bool:
    """Long, or a sentence of a dozen words: what a title (max ~150 chars) never is."""
    if len(text) >= SURE_ABSTRACT_CHARS:
        return True
    return len(text.split()) >= MIN_ABSTRACT_WORDS and text.rstrip()[-1:] in ".!?"


def parse_listing(src: Path | Source) -> Iterator[ParsedItem]:
    """Entries of a listing file, each at its title's line number.

    Yields an error item (and resynchronises) when a title has no abstract or a line
    in a title's place is clearly an abstract.
    """
    if isinstance(src, Path):
        with Source(src) as opened:
            yield from parse_listing(opened)
        return
    title: tuple[int, str] | None = None
    after_header = True  # "Subscribe" glues onto the title right after the page header
    entries = 0
    orphan = False  # the last title was unreadable: its abstract follows, already reported
    for n, text, error in src.lines():
        if error is not None:
            # Reported at the bad line itself; a pending title goes down with its abstract.
            suffix = f" (the abstract of {title[1]!r:.60})" if title is not None else ""
            yield ParsedItem(n, error=error + suffix)
            orphan, title = title is None, None
            continue
        text = text.strip()
        if not text:
            continue
        if title is None:
            if orphan and looks_like_abstract(text):
                orphan = False
                continue
            orphan = False
            if is_header_line(text):
                after_header = True  # also mid-file, where two pages were concatenated
                continue
            if after_header:
                text = _GLUED_SUBSCRIBE.sub("", text)
            if len(text) > MAX_TITLE_CHARS:
                yield ParsedItem(
                    n, error=f"expected a title, found a {len(text)}-character line "
                    "(an abstract without its title?)"
                )
                continue
            title = (n, text)
            after_header = False
            entries += 1
            continue
        if not looks_like_abstract(text):
            # Two title-like lines in a row: the first one has no abstract.
            yield ParsedItem(title[0], error=f"title with no abstract: {title[1]!r:.80}")
            title = (n, text)
            continue
        try:
            record = make_record(title=title[1], abstract=text, source=SOURCE)
        except RecordError as exc:  # e.g. a NUL or a 1 MB abstract: refused before writing
            yield ParsedItem(title[0], error=str(exc))
        else:
            yield ParsedItem(title[0], record=record)
        title = None
    if title is not None:
        yield ParsedItem(
            title[0], error=f"title with no abstract at the end of the file: {title[1]!r:.80}"
        )
    elif not entries and src.lines_read:
        yield ParsedItem(0, error="no papers in this listing (only page header lines)")
