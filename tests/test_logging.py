"""The log configuration every PaperBot command installs (setup_logging): a value logged by
anyone (our code, Bolt, slack_sdk) can't forge a line, rewrite a terminal, or leak a token.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator

import pytest

from tests.logcapture import captured_log

SECRET = "signing-secret-abcdef123456"
BOT_TOKEN = "xoxb-1111-2222-thisisthebottoken"
FORGED = "2026-01-01 00:00:00,000 ERROR bot.server: FORGED admin password reset"
RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ \S+: ")


@pytest.fixture
def log_text() -> Iterator[io.StringIO]:
    with captured_log("DEBUG", secrets=(SECRET,)) as buf:
        yield buf


def test_control_characters_in_values_cannot_forge_lines(log_text: io.StringIO) -> None:
    log = logging.getLogger("bot.test")
    log.warning("query %s from %r", f"x\n{FORGED}\r\n{FORGED}", "\x1b[2J\x1b[31mred\x07")
    log.info(f"f-string {FORGED[:4]}\n{FORGED}\u2028{FORGED}\x85{FORGED}\x00")
    log.error("multi\nline message from code")
    lines = log_text.getvalue().splitlines()
    assert len(lines) == 3
    assert all(RECORD.match(line) for line in lines)
    assert "\x1b" not in log_text.getvalue() and "\x07" not in log_text.getvalue()
    assert "\\n2026-01-01" in lines[0] and "\\x1b[2J" in lines[0]
    assert "\\u2028" in lines[1] and "\\x85" in lines[1] and "\\x00" in lines[1]
    assert lines[2].endswith("multi\\nline message from code")


def test_tracebacks_keep_their_lines_but_escape_the_rest(log_text: io.StringIO) -> None:
    log = logging.getLogger("bot.test")
    try:
        raise ValueError(f"bad value \x1b[31m{BOT_TOKEN}")
    except ValueError:
        log.exception("failed for %s", f"user\n{FORGED}")
    text = log_text.getvalue()
    first, *rest = text.splitlines()
    assert RECORD.match(first) and "\\n" + FORGED in first
    assert rest[0] == "Traceback (most recent call last):"
    assert rest[-1] == "ValueError: bad value \\x1b[31mxox*-***"
    assert not any(line.startswith(FORGED) for line in rest)
    assert BOT_TOKEN not in text


def test_secrets_and_legacy_verification_token_are_redacted(log_text: io.StringIO) -> None:
    log = logging.getLogger("slack_bolt.App")
    log.info("body %s", "token=legacy-verif-123&team_id=T1&text=hello")
    log.info("body %s", {"token": "legacy-verif-123", "team_id": "T1"})
    log.info('json {"token": "legacy-verif-123", "bot_token": "keep-me"}')
    log.warning("config %s %s", SECRET, BOT_TOKEN)
    text = log_text.getvalue()
    assert "legacy-verif-123" not in text and SECRET not in text and BOT_TOKEN not in text
    assert "team_id=T1" in text and "'team_id': 'T1'" in text and "keep-me" in text
    assert text.count("***") >= 5


def test_bolts_failed_signature_line_never_carries_the_body(log_text: io.StringIO) -> None:
    """Bolt logs every failed signature with the whole request body (166 MB from 160
    unsigned 1 MB requests); if one ever reaches Bolt, only a short line is written."""
    logging.getLogger("slack_bolt.RequestVerification").info(
        "Invalid request signature detected (signature: v0=1, timestamp: 1, body: %s)",
        "BODYMARKER" * 10_000,
    )
    text = log_text.getvalue()
    assert "BODYMARKER" not in text and len(text) < 200
    assert "invalid request signature" in text


def test_log_lines_follow_stderr_when_it_is_swapped_and_the_old_one_closed() -> None:
    """A thread logging after a test (or a caller) replaced and closed stderr must not hit
    the closed file ("--- Logging error --- I/O operation on closed file")."""
    import io
    import logging
    import sys

    from bot.logging_setup import setup_logging

    saved, root_handlers = sys.stderr, logging.getLogger().handlers[:]
    first, second = io.StringIO(), io.StringIO()
    try:
        sys.stderr = first
        setup_logging("INFO")
        sys.stderr = second
        first.close()
        logging.getLogger("paperbot.test").warning("still heard")
    finally:
        sys.stderr = saved
        logging.getLogger().handlers[:] = root_handlers
    assert "still heard" in second.getvalue()
