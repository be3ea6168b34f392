"""Log configuration, with secrets scrubbed from every record before it is written."""

from __future__ import annotations

import logging
import re

# Slack tokens (bot, user, app-level, config) and signing-secret-like hex strings.
_SECRET = re.compile(r"\b(xox[abposer]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+)\b")


class RedactSecrets(logging.Filter):
    def __init__(self, extra: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.extra = tuple(s for s in extra if s and len(s) >= 6)

    def scrub(self, text: str) -> str:
        text = _SECRET.sub("xox*-***", text)
        for secret in self.extra:
            text = text.replace(secret, "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        clean = self.scrub(message)
        if clean != message or record.args:
            record.msg, record.args = clean, None
        if record.exc_text:
            record.exc_text = self.scrub(record.exc_text)
        return True


def setup_logging(
    level: str = "INFO", secrets: tuple[str, ...] = (), *, interactive: bool = False
) -> None:
    """Log to stderr; interactive commands get short lines and only warnings."""
    handler = logging.StreamHandler()
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
