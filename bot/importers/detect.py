"""Which parser a file needs, decided from its first non-blank bytes (or --format)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

from bot.importers.arxiv import parse_arxiv
from bot.importers.errors import ImportFailed
from bot.importers.export import is_export_entry, parse_export
from bot.importers.hf import parse_hf
from bot.importers.listing import parse_listing
from bot.importers.records import ParsedItem
from bot.importers.source import Source, iter_json_array

FORMATS = ("listing", "hf", "arxiv", "paperbot")
Parser = Callable[[Source], Iterator[ParsedItem]]
PARSERS: dict[str, Parser] = {
    "listing": parse_listing, "hf": parse_hf, "arxiv": parse_arxiv, "paperbot": parse_export,
}
# JSON starts '[' + a value or ']', or '{' + a key or '}'; a listing title like
# "[Re] Reproducing ..." or "{CLIP} ..." does not.
_JSON_START = re.compile(rb'\[\s*([\[{"\]\-0-9]|true|false|null)|\{\s*["}]')


def detect_format(src: Source, fmt: str = "auto") -> str:
    """'listing', 'hf' or 'arxiv'; ImportFailed for empty, binary or unrecognised files."""
    if fmt not in ("auto", *FORMATS):
        choices = ", ".join(("auto", *FORMATS))
        raise ImportFailed(src.path, None, f"unknown format {fmt!r} (use {choices})")
    head = src.head().lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head:
        raise ImportFailed(src.path, None, "empty file")
    if b"\x00" in head:
        raise ImportFailed(src.path, None, "unknown format: binary data, not text or JSON")
    is_json = bool(_JSON_START.match(head))
    if fmt == "listing":
        return fmt
    if fmt in ("hf", "arxiv", "paperbot"):
        if not is_json:
            raise ImportFailed(
                src.path, None, f"--format {fmt} needs a JSON array or JSON Lines, "
                "but the file does not start with '[' or '{'"
            )
        return fmt
    if not is_json:
        return "listing"
    return _json_schema(src, array=head[:1] == b"[")


def _json_schema(src: Source, *, array: bool) -> str:
    """Tell HF entries ({"paper": {...}}) from arXiv snapshot lines ({"id", "abstract"}) and
    from PaperBot's own export ("format": "paperbot/1")."""
    first: object = None
    try:
        if array:
            first = next((value for _, value in iter_json_array(src)), None)
        else:
            for _, text, _error in src.lines():
                if text and text.strip():
                    first = json.loads(text)
                    break
    except (ImportFailed, json.JSONDecodeError, RecursionError):
        first = None  # let the parse report the exact line; assume the common shape
    finally:
        src.rewind()
    if first is None:
        return "hf"
    if isinstance(first, dict):
        if is_export_entry(first):
            return "paperbot"
        if isinstance(first.get("paper"), dict):
            return "hf"
        if "abstract" in first and "id" in first:
            return "arxiv"
        keys = ", ".join(sorted(first)[:8]) or "none"
        raise ImportFailed(
            src.path, None, f"unknown format: JSON entries with keys {keys} are not "
            "Hugging Face daily papers, arXiv metadata or a PaperBot export "
            "(use --format to force one)"
        )
    raise ImportFailed(src.path, None, "unknown format: JSON entries are not objects")


def open_parser(path: Path, fmt: str = "auto") -> tuple[Source, str, Iterator[ParsedItem]]:
    """Open, detect and start parsing `path`; the caller closes the Source."""
    src = Source(path)
    try:
        kind = detect_format(src, fmt)
    except BaseException:
        src.close()
        raise
    return src, kind, PARSERS[kind](src)
