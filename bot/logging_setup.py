"""Log configuration: every record is made safe before it is written.

Three things a log line must never carry, whoever emits it (our code, Bolt, slack_sdk):
- secrets: Slack tokens and the configured secrets become `***`;
- Slack's legacy verification `token` field (in form bodies and parsed payload dicts);
- control characters: a value that holds a newline, a carriage return, an ANSI escape or any
  other C0/C1 character could forge a log line or rewrite a terminal, so they are shown
  escaped (`\\n`, `\\x1b`). A traceback keeps its own line structure (its other control
  characters are escaped the same way).
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

# Slack tokens (bot, user, app-level, config), also glued to a preceding word (e.g. after an
# ANSI colour code "\x1b[31m"), which a leading \b would miss.
_SECRET = re.compile(r"(xox[abposer]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+)")
# Slack's legacy verification token as a form field (`token=…`) or a dict/JSON key
# (`'token': '…'`, `"token": "…"`); `bot_token`, `SLACK_BOT_TOKEN` etc. don't match.
_TOKEN_FIELD = re.compile(r"""(\btoken(?:['"]\s*:\s*['"]?|=))[^'"&\s,}]+""")
# C0 controls, DEL, C1 controls, and the Unicode line/paragraph separators.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_NOT_NEWLINE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# Bolt's request verification logs the whole request body on every failed signature; the
# server checks signatures before Bolt sees a request, and this keeps the body out anyway.
_BODY_LOGGERS = ("slack_bolt.RequestVerification", "slack_bolt.AsyncRequestVerification")


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    return _NAMED.get(ch) or (f"\\x{ord(ch):02x}" if ord(ch) <= 0xFF else f"\\u{ord(ch):04x}")


def neutralise(text: str, *, keep_newlines: bool = False) -> str:
    """`text` with control characters escaped, so it stays on the line it was written on."""
    return (_CONTROL_NOT_NEWLINE if keep_newlines else _CONTROL).sub(_escape, text)


class RedactSecrets(logging.Filter):
    """Scrubs secrets and legacy tokens and neutralises control characters in each record.

    The message is formatted here (msg % args) and stored back with args=None, so every
    handler writes the cleaned text. Attached to the handler: it sees every logger's records.
    """

    def __init__(self, extra: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.extra = tuple(s for s in extra if s and len(s) >= 6)

    def scrub(self, text: str) -> str:
        text = _SECRET.sub("xox*-***", text)
        for secret in self.extra:
            text = text.replace(secret, "***")
        return _TOKEN_FIELD.sub(r"\1***", text)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name in _BODY_LOGGERS:
            record.msg, record.args = "invalid request signature (request body not logged)", None
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the record or raise here
            message = f"{record.msg!r} % {record.args!r}"
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg, record.args = neutralise(self.scrub(message)), None
        if record.exc_text:
            record.exc_text = neutralise(self.scrub(record.exc_text), keep_newlines=True)
        if record.stack_info:
            record.stack_info = neutralise(self.scrub(record.stack_info), keep_newlines=True)
        return True


class StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a line is logged, not the one at set-up: a
    caller that swaps stderr (a test capturing it, then closing it) leaves no handler
    writing into a closed file for the threads still running. setStream() pins a stream."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)
        self._pinned: Any = None

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return self._pinned if self._pinned is not None else sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        self._pinned = value


def setup_logging(
    level: str = "INFO", secrets: tuple[str, ...] = (), *, interactive: bool = False
) -> None:
    """Log to stderr; interactive commands get short lines and only warnings."""
    handler = StderrHandler()
    fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    if interactive:
        fmt = "paperbot: %(message)s"
    handler.setFormatter(logging.Formatter(fmt))
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Alembic narrates every migration step and httpx every request at INFO.
    for noisy in ("alembic", "httpx"):
        logging.getLogger(noisy).setLevel(max(logging.getLevelName(level), logging.WARNING))
