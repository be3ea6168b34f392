"""What can go wrong in an import, worded so a user can find and fix the bad line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class RecordError(ValueError):
    """One entry is unusable (missing field, wrong type, ...); the message says which field."""


class ImportFailed(Exception):
    """A file cannot be imported as a whole. Raised before anything from it is written."""

    def __init__(self, path: Path | str, line: int | None, reason: str) -> None:
        self.path = Path(path)
        self.line = line
        self.reason = reason
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.path} line {self.line}" if self.line else str(self.path)
        return f"{where}: {self.reason}"


@dataclass(frozen=True)
class BadRecord:
    """A line (or a whole file, line=None) that --skip-bad left out, and why."""

    path: Path
    line: int | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else str(self.path)
        return f"{where}: {self.reason}"
