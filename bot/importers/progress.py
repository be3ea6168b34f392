"""A one-line progress display for long imports, drawn only on a terminal.

Self-written (a carriage-return line on stderr) to avoid a dependency; throttled so
redrawing costs nothing next to parsing.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Protocol, TextIO


class Position(Protocol):
    """Where a pass is: the input file being read, or the spool of its checked entries."""

    path: Path
    size: int
    lines_read: int

    @property
    def bytes_read(self) -> int: ...


REDRAW_SECONDS = 0.2


class Progress:
    def __init__(self, enabled: bool | None = None, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        if enabled is None:
            isatty = getattr(self.stream, "isatty", None)
            enabled = bool(isatty and isatty())
        self.enabled = enabled
        self._label = ""
        self._src: Position | None = None
        self._last = 0.0
        self._width = 0

    def start(self, label: str, src: Position) -> None:
        self._label, self._src, self._last = label, src, 0.0

    def update(self, records: int, *, force: bool = False) -> None:
        if not self.enabled or self._src is None:
            return
        now = time.monotonic()
        if not force and now - self._last < REDRAW_SECONDS:
            return
        self._last = now
        src = self._src
        pct = min(100, src.bytes_read * 100 // src.size) if src.size else 100
        text = (
            f"{self._label} {src.path.name}: {src.lines_read:,} lines, {records:,} records, {pct}%"
        )
        self.stream.write("\r" + text.ljust(self._width))
        self.stream.flush()
        self._width = len(text)

    def finish(self) -> None:
        """Erase the line so the report that follows starts clean."""
        if self.enabled and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
        self._src, self._width = None, 0
