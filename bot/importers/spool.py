"""Checked records kept in a temporary file between an import's checking and writing passes.

Why: the writing pass used to read and parse the file a second time, redoing the JSON
decoding and every PaperRecord check; that was a third of a large import. The checking pass
now writes each entry it has checked (the record's plain values, or the reason the entry is
bad) to an unnamed temporary file in blocks of marshal data, and the writing pass replays
them in the same order, so line numbers, duplicate positions and --skip-bad reports are
exactly those of the file. The spool is ~0.9x the size of the input (text stays text), lives
in the temporary directory ($TMPDIR) and disappears when closed or when the process dies. If
it cannot be written (a full disk), the import falls back to reading the file again.
"""

from __future__ import annotations

import marshal
import struct
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from bot.importers.errors import ImportFailed
from bot.importers.records import ParsedItem
from storage.papers import PaperRecord

BLOCK_ITEMS = 2000  # entries per marshal block: large enough to amortize, small in memory
_LEN = struct.Struct("<Q")


class Spool:
    """Append ParsedItems while checking, then replay them (once) while writing.

    A spool may also be assembled from parts written by other processes (a parallel
    check, see bot.importers.parallel): each part is replayed in turn, its line numbers
    shifted by the lines of the file that came before its share.
    """

    def __init__(self, path: Path, file: IO[bytes] | None = None) -> None:
        self.path = path  # the input file, named by the progress line
        self._f: IO[bytes] | None = file
        if file is None:
            try:
                self._f = tempfile.TemporaryFile(prefix="paperbot-import-")  # noqa: SIM115
            except OSError:  # no usable temporary directory: the file is read again instead
                self._f = None
        self.usable = self._f is not None
        self._block: list[tuple[int, object]] = []
        self._parts: list[tuple[IO[bytes], int]] = []  # (file, line offset), replay order
        self._replaying: IO[bytes] | None = None
        self._replayed = 0  # bytes of the parts replayed before the current one
        self.failed: ImportFailed | None = None  # where the file broke off (--skip-bad)
        self.size = 0
        self.lines_read = 0  # line of the entry replayed last (for the progress line)

    def add(self, item: ParsedItem) -> None:
        if self._f is None:
            return
        rec = item.record
        self._block.append((item.line, rec.checked_values() if rec is not None else item.error))
        if len(self._block) >= BLOCK_ITEMS:
            self._dump()

    def _dump(self) -> None:
        assert self._f is not None
        data = marshal.dumps(self._block)
        self._block = []
        try:
            self._f.write(_LEN.pack(len(data)))
            self._f.write(data)
        except OSError:  # e.g. no space left: give up the spool, the file is read again
            self.close()

    def finish(self) -> None:
        """Done checking: flush the last block; what was written becomes the first part."""
        if self._f is None:
            return
        if self._block:
            self._dump()
        if self._f is not None:
            f, self._f = self._f, None
            try:
                f.flush()
            except OSError:
                f.close()
                self.close()
                return
            self.add_part(f, 0)

    def add_part(self, f: IO[bytes], line_offset: int) -> None:
        """Replay `f` (a finished spool file, any position) after the parts added before."""
        f.seek(0, 2)
        self.size += f.tell()
        f.seek(0)
        self._parts.append((f, line_offset))

    @property
    def bytes_read(self) -> int:
        try:
            return self._replayed + (self._replaying.tell() if self._replaying else 0)
        except (OSError, ValueError):
            return self.size

    def items(self) -> Iterator[ParsedItem]:
        """The checked entries in file order, records rebuilt without checking them again."""
        assert self.usable, "the spool was not written"
        restore = PaperRecord.from_checked_values
        for f, offset in self._parts:
            self._replaying = f
            while head := f.read(_LEN.size):
                (n,) = _LEN.unpack(head)
                for line, value in marshal.loads(f.read(n)):
                    self.lines_read = line = line + offset
                    if isinstance(value, tuple):
                        yield ParsedItem(line, record=restore(value))
                    else:
                        yield ParsedItem(line, error=value)  # type: ignore[arg-type]
            self._replayed += f.tell()
            self._replaying = None

    def close(self) -> None:
        self.usable = False
        for f in [self._f, *(f for f, _ in self._parts)]:
            if f is not None:
                f.close()
        self._f, self._parts, self._block = None, [], []
