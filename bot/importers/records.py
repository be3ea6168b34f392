"""The item every parser yields, and strict field readers shared by the JSON formats.

Parsers never raise for a bad entry: they yield an item carrying the error, so the
caller decides between "stop and name the line" and "--skip-bad and carry on".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from bot.importers.errors import RecordError
from storage.papers import MAX_UPVOTES, PaperRecord, refused_char


@dataclass(frozen=True)
class ParsedItem:
    """One entry of an input file: a record, or the reason it is unusable."""

    line: int
    record: PaperRecord | None = None
    error: str | None = None


def type_name(value: object) -> str:
    return {
        dict: "an object", list: "a list", str: "a string", bool: "a boolean",
        int: "a number", float: "a number", type(None): "null",
    }.get(type(value), type(value).__name__)


def need_object(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RecordError(f"{where} must be an object, got {type_name(value)}")
    return value


def get_str(obj: dict[str, Any], key: str, where: str, *, required: bool = True) -> str | None:
    """A string field; missing/null is an error only when required."""
    value = obj.get(key)
    if value is None:
        if required:
            raise RecordError(f"{where}{key} is missing")
        return None
    if not isinstance(value, str):
        raise RecordError(f"{where}{key} must be a string, got {type_name(value)} {value!r:.40}")
    why = refused_char(value)  # named here with the input's own field path
    if why:
        raise RecordError(f"{where}{key} {why}")
    if required and not value.strip():
        raise RecordError(f"{where}{key} is empty")
    return value


def get_int(obj: dict[str, Any], key: str, where: str) -> int | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        got = f"{type_name(value)} {value!r:.40}"
        raise RecordError(f"{where}{key} must be a whole number, got {got}")
    if value < 0:
        raise RecordError(f"{where}{key} must not be negative, got {value}")
    if value > MAX_UPVOTES:  # the column is a 32-bit integer on PostgreSQL
        raise RecordError(f"{where}{key} is too large ({value!r:.40}; at most {MAX_UPVOTES:,})")
    return value


def parse_iso_date(value: str, what: str) -> date:
    """'2024-04-24T13:00:00.000Z' or '2023-05-01' -> date."""
    try:
        if len(value) == 10:
            return date.fromisoformat(value)
        return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
    except (ValueError, OverflowError):
        raise RecordError(f"{what} is not an ISO date: {value!r:.40}") from None


def make_record(**fields: Any) -> PaperRecord:
    """PaperRecord, with its own validation (empty title, NUL, sizes, ranges: what the
    database would refuse at write time) reported as a RecordError naming the field."""
    try:
        return PaperRecord(**fields)
    except ValueError as exc:
        raise RecordError(str(exc)) from None
