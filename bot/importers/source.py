"""Streaming reads of an input file: numbered lines, JSON per line, big JSON arrays.

Nothing here loads a whole file: lines come one at a time and a JSON array is decoded
entry by entry from a bounded buffer. Invalid UTF-8 is reported with its line number
instead of being silently replaced. Gzip-compressed inputs (.gz) are read transparently.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from bot.importers.errors import ImportFailed

GZIP_MAGIC = b"\x1f\x8b"
CHUNK = 1 << 20
MAX_ENTRY_CHARS = 64 << 20  # one JSON entry bigger than this is not a paper
MAX_LINE_BYTES = 256 << 20  # JSON arrays stream by line: one line is the unit held in memory
# json's decoder recurses per nesting level; past Python's recursion limit it raises
# RecursionError, which is reported as this (a paper entry is a few levels deep).
TOO_DEEP = "invalid JSON (nested too deeply: more levels than any paper entry has)"


def check_file(path: Path) -> None:
    """Refuse what cannot be read as an input file, with a reason a user understands."""
    if not path.exists():
        raise ImportFailed(path, None, "no such file")
    if path.is_dir():
        raise ImportFailed(path, None, "is a directory, not a file (pass the files inside it)")
    if not path.is_file():
        raise ImportFailed(path, None, "not a regular file")


class Source:
    """An open input file that knows how far it has been read (for the progress line)."""

    def __init__(self, path: Path, start: int = 0, end: int | None = None) -> None:
        """`start`/`end`: read only the lines starting in [start, end) of a plain file (a
        parallel check's share; `start` must be a line start, lines are numbered from 1)."""
        check_file(path)
        self.path = path
        try:
            self.size = path.stat().st_size
            self._raw: IO[bytes] = path.open("rb")
        except OSError as exc:
            raise ImportFailed(path, None, f"cannot read it ({exc.strerror or exc})") from None
        self.gzipped = self._raw.read(2) == GZIP_MAGIC
        self._raw.seek(0)
        self._f: IO[bytes] = gzip.GzipFile(fileobj=self._raw) if self.gzipped else self._raw
        self.lines_read = 0
        self._start, self._end = start, end
        if start or end is not None:
            if self.gzipped:
                raise ValueError("a byte range of a gzip file cannot be read on its own")
            self._raw.seek(start)

    @property
    def bytes_read(self) -> int:
        """Position in the file on disk (compressed bytes for .gz), for a percentage."""
        try:
            return self._raw.tell()
        except (OSError, ValueError):
            return self.size

    def close(self) -> None:
        self._f.close()
        self._raw.close()

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def head(self, n: int = 65536) -> bytes:
        """The first bytes (decompressed), without moving the reading position."""
        data = self._f.read(n)
        self._f.seek(0)
        return data

    def rewind(self) -> None:
        """Back to the start, e.g. after format detection peeked at the first entry."""
        self._f.seek(0)
        self.lines_read = 0

    def _raw_lines(self) -> Iterator[bytes]:
        """Lines as bytes, each at most MAX_LINE_BYTES: memory stays bounded on any input."""
        readline = self._f.readline
        pos, end = self._start, self._end
        try:
            while (end is None or pos < end) and (raw := readline(MAX_LINE_BYTES + 1)):
                pos += len(raw)
                if len(raw) > MAX_LINE_BYTES:
                    raise ImportFailed(
                        self.path, self.lines_read + 1,
                        f"line longer than {MAX_LINE_BYTES >> 20} MiB; a huge single-line JSON "
                        "array must be converted to JSON Lines (one entry per line)",
                    )
                yield raw
        except (OSError, EOFError) as exc:  # corrupt or truncated gzip stream
            raise ImportFailed(self.path, self.lines_read + 1, f"cannot read it ({exc})") from None

    def lines(self) -> Iterator[tuple[int, str | None, str | None]]:
        """(line number, text without newline, None) or (line number, None, why undecodable)."""
        for raw in self._raw_lines():
            self.lines_read += 1
            n = self.lines_read
            if n == 1 and not self._start and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield n, None, bad_utf8(raw, exc)
                continue
            yield n, text.rstrip("\r\n"), None

    def text_chunks(self) -> Iterator[tuple[str, int]]:
        """Decoded text in ~1 MiB pieces (split at line ends), with the first line's number."""
        pending: list[str] = []
        size = 0
        start = 1
        for n, text, error in self.lines():
            if error is not None:
                raise ImportFailed(self.path, n, error)
            pending.append(text + "\n")
            size += len(text)
            if size >= CHUNK:
                yield "".join(pending), start
                pending, size, start = [], 0, n + 1
        if pending:
            yield "".join(pending), start


def bad_utf8(raw: bytes, exc: UnicodeDecodeError) -> str:
    return f"invalid UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})"


def is_truncated(text: str, exc: json.JSONDecodeError) -> bool:
    """The text ends inside a value (a cut-off line or file), rather than being wrong."""
    return exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string")


def json_error(text: str, exc: json.JSONDecodeError) -> str:
    """'truncated JSON (...)' when the text stops mid-value, else 'invalid JSON (...)'."""
    if is_truncated(text, exc):
        return f"truncated JSON ({exc.msg})"
    return f"invalid JSON ({exc.msg} at column {exc.colno})"


def iter_json_array(src: Source) -> Iterator[tuple[int, Any]]:
    """Entries of a top-level JSON array as (line where the entry starts, value).

    Decodes entry by entry from a buffer refilled in ~1 MiB pieces, so a large array is
    never held whole. Syntax errors raise ImportFailed naming the line: after one, the
    rest of the array cannot be trusted.
    """
    decoder = json.JSONDecoder()
    chunks = src.text_chunks()
    buf = ""
    pos = 0
    line = 1
    eof = False

    def fill() -> bool:
        nonlocal buf, pos, eof
        if eof:
            return False
        try:
            text, _ = next(chunks)
        except StopIteration:
            eof = True
            return False
        buf = buf[pos:] + text
        pos = 0
        return True

    def advance(to: int) -> None:
        nonlocal pos, line
        line += buf.count("\n", pos, to)
        pos = to

    def skip_ws() -> str:
        """The next non-blank character ('' at the end of the file)."""
        while True:
            while pos < len(buf) and buf[pos] in " \t\r\n":
                advance(pos + 1)
            if pos < len(buf):
                return buf[pos]
            if not fill():
                return ""

    def fail(reason: str, at: int | None = None) -> ImportFailed:
        at_line = line + (buf.count("\n", pos, at) if at is not None else 0)
        return ImportFailed(src.path, at_line, reason)

    if skip_ws() != "[":
        raise fail("not a JSON array")
    advance(pos + 1)
    first = True
    while True:
        ch = skip_ws()
        if ch == "":
            raise fail("truncated JSON (the array is not closed with ']')")
        if ch == "]" and first:
            advance(pos + 1)
            break
        if not first:
            if ch == "]":
                advance(pos + 1)
                break
            if ch != ",":
                raise fail("invalid JSON (expected ',' or ']' between entries)")
            advance(pos + 1)
            if skip_ws() == "":
                raise fail("truncated JSON (the array ends after ',')")
        first = False
        while True:
            try:
                value, end = decoder.raw_decode(buf, pos)
            except RecursionError:
                raise fail(TOO_DEEP) from None
            except json.JSONDecodeError as exc:
                if len(buf) - pos > MAX_ENTRY_CHARS:
                    raise fail("an entry is too large (over 64 MiB)") from None
                if fill():
                    continue
                if is_truncated(buf, exc):
                    raise fail(f"truncated JSON ({exc.msg})", exc.pos) from None
                raise fail(f"invalid JSON ({exc.msg})", exc.pos) from None
            if end >= len(buf) and fill():  # a number may continue in the next piece
                continue
            break
        yield line, value
        advance(end)
    if skip_ws() != "":
        raise fail("invalid JSON (extra data after the closing ']')")
