"""The production log configuration (bot.logging_setup), written into a buffer for a test."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def captured_log(level: str = "INFO", secrets: tuple[str, ...] = ()) -> Iterator[io.StringIO]:
    """What PaperBot would write to stderr, as text; the previous handlers come back after."""
    from bot.logging_setup import setup_logging

    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    setup_logging(level, secrets=secrets)
    buf = io.StringIO()
    root.handlers[0].setStream(buf)  # type: ignore[attr-defined]
    try:
        yield buf
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
