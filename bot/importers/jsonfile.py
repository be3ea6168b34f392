"""JSON Lines or one JSON array, entry by entry, mapped through a format's entry function."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from bot.importers.errors import ImportFailed, RecordError
from bot.importers.records import ParsedItem
from bot.importers.source import TOO_DEEP, Source, iter_json_array, json_error
from storage.papers import PaperRecord

EntryMapper = Callable[[Any], PaperRecord]


def first_char(src: Source) -> str:
    """The first non-blank character of the file ('' when there is none)."""
    head = src.head(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    return chr(head[0]) if head else ""


def parse_json_entries(src: Source, to_record: EntryMapper) -> Iterator[ParsedItem]:
    """A '[...]' file is decoded as one array (incrementally); anything else as JSON Lines."""
    if first_char(src) == "[":
        yield from _array(src, to_record)
    else:
        yield from jsonl_items(src, to_record)


def _mapped(n: int, entry: Any, to_record: EntryMapper) -> ParsedItem:
    try:
        return ParsedItem(n, record=to_record(entry))
    except RecordError as exc:
        return ParsedItem(n, error=str(exc))


def jsonl_items(src: Source, to_record: EntryMapper) -> Iterator[ParsedItem]:
    for n, text, error in src.lines():
        if error is not None:
            yield ParsedItem(n, error=error)
            continue
        if not text.strip():
            continue
        try:
            entry = json.loads(text)
        except json.JSONDecodeError as exc:
            yield ParsedItem(n, error=json_error(text, exc))
            continue
        except RecursionError:
            yield ParsedItem(n, error=TOO_DEEP)
            continue
        yield _mapped(n, entry, to_record)


def _array(src: Source, to_record: EntryMapper) -> Iterator[ParsedItem]:
    try:
        for n, entry in iter_json_array(src):
            yield _mapped(n, entry, to_record)
    except ImportFailed as exc:
        # The rest of a broken array cannot be trusted: report it and stop reading.
        yield ParsedItem(exc.line or 0, error=f"{exc.reason}; the rest of the file was not read")
