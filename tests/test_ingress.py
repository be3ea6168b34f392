"""Unsigned junk at POST /slack/events: a short 401 (413 when oversized), never a 500 or a
traceback, never its body or a forged line in the log, and a bounded number of log lines
however many arrive. Signed requests still reach Bolt and are answered.

Everything goes through the real server (waitress on port 0, real HTTP) and the real log
configuration (bot.logging_setup.setup_logging), captured from its own handler.
"""

from __future__ import annotations

import io
import json
import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.server import MAX_BODY_BYTES
from tests.fakes.signing import TEST_SIGNING_SECRET, slack_signature
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_payloads import VERIFICATION_TOKEN, block_actions, slash_command
from tests.listeners.conftest import fake_slack_fixture  # noqa: F401
from tests.listeners.support import BOT_TOKEN, Running, make_services, sqlite_only, start
from tests.logcapture import captured_log

FORM = "application/x-www-form-urlencoded"
FORGED = "2026-01-01 00:00:00,000 ERROR bot.server: FORGED admin password reset"
LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) ")


@pytest.fixture
def app_log() -> Iterator[io.StringIO]:
    """`paperbot serve`'s log configuration, writing into a buffer; restored afterwards.

    Set up before the app is built: Bolt copies the root level into its loggers then.
    """
    httpcore = logging.getLogger("httpcore")
    saved_httpcore = httpcore.level
    with captured_log("DEBUG", secrets=(BOT_TOKEN, TEST_SIGNING_SECRET)) as buf:
        httpcore.setLevel(logging.WARNING)  # the test's own HTTP client, not the app
        try:
            yield buf
        finally:
            httpcore.setLevel(saved_httpcore)


@pytest.fixture
def served(
    app_log: io.StringIO, db_url: str, tmp_path: Path, fake_slack: FakeSlack
) -> Iterator[Running]:
    running = start(make_services(db_url, tmp_path / "home", fake_slack, PAPERBOT_SEED="1"))
    try:
        yield running
    finally:
        running.stop()


def _post(running: Running, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return running.sender.http.post(
        f"{running.url}/slack/events", content=body, headers={"Content-Type": FORM, **headers}
    )


def _signed(body: bytes, *, timestamp: str | None = None, secret: str = TEST_SIGNING_SECRET,
            ) -> dict[str, str]:
    ts = timestamp or str(int(time.time()))
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": slack_signature(secret, ts, body)}


def _junk(marker: str) -> list[tuple[str, bytes, dict[str, str]]]:
    """(name, body, headers) for each kind of junk; every body carries `marker`."""
    now = str(int(time.time()))
    form = f"token={VERIFICATION_TOKEN}&text={marker}".encode()
    newline = f"text={marker}\n{FORGED}\r\n\x1b[2J{FORGED}".encode()
    not_utf8 = marker.encode() + b"\xff\xfe\x80 invalid utf-8"
    not_json = f"payload=%7Bnot-json-{marker}".encode()
    return [
        ("missing headers", form, {}),
        ("non-numeric timestamp", form, {"X-Slack-Request-Timestamp": "12abc",
                                         "X-Slack-Signature": "v0=00"}),
        ("negative timestamp", form, {"X-Slack-Request-Timestamp": "-1",
                                      "X-Slack-Signature": "v0=00"}),
        ("non-UTF-8 body", not_utf8, {"X-Slack-Request-Timestamp": now,
                                      "X-Slack-Signature": "v0=00"}),
        # HMAC over the raw bytes with the real secret: Bolt would still choke decoding it
        ("non-UTF-8 body, correctly signed bytes", not_utf8, _signed(not_utf8)),
        ("payload= not JSON", not_json, {}),
        ("payload= not JSON, bad signature", not_json, _signed(not_json, secret="wrong-secret")),
        ("newline in body", newline, {}),
        ("bad signature", form, _signed(form, secret="not-the-secret")),
        ("stale timestamp", form, _signed(form, timestamp=str(int(time.time()) - 6 * 60))),
        ("future timestamp", form, _signed(form, timestamp=str(int(time.time()) + 6 * 60))),
    ]


def _assert_clean(log_text: str, *markers: str) -> None:
    """No traceback, no body, no legacy token, no forged line: every line is one record."""
    assert "Traceback" not in log_text
    for marker in markers:
        assert marker not in log_text
    assert VERIFICATION_TOKEN not in log_text
    for line in log_text.splitlines():
        assert LINE.match(line), f"a log line that is not a log record: {line!r}"
        assert "FORGED" not in line


@sqlite_only
def test_each_kind_of_unsigned_junk_gets_401_and_a_clean_log(
    served: Running, app_log: io.StringIO, fake_slack: FakeSlack
) -> None:
    marker = "JUNKMARKER7319"
    answers = {name: _post(served, body, headers) for name, body, headers in _junk(marker)}
    assert {name: r.status_code for name, r in answers.items()} == dict.fromkeys(answers, 401)
    for name, resp in answers.items():
        assert resp.json() == {"ok": False, "error": "invalid_signature"}, name
        assert marker not in resp.text
    log_text = app_log.getvalue()
    _assert_clean(log_text, marker)
    refused = [line for line in log_text.splitlines() if "refused a request" in line]
    assert len(refused) == 1  # rate-limited: one line for the whole burst
    assert "not signed by Slack" in refused[0]
    assert [c.method for c in fake_slack.calls] == ["auth.test"]  # nothing reached a listener


@sqlite_only
def test_oversized_body_gets_413_without_logging_it(
    served: Running, app_log: io.StringIO
) -> None:
    marker = "HUGEMARKER5521"
    body = (marker + "a" * 1000).encode() * (MAX_BODY_BYTES // 1000 + 10)
    assert len(body) > MAX_BODY_BYTES
    for headers in ({}, _signed(body)):  # signed or not, too big is too big
        resp = _post(served, body, headers)
        assert resp.status_code == 413
        assert marker not in resp.text
    # waitress refuses a declared oversize before the app; a chunked one reaches our reader
    chunks = (body[i:i + 65536] for i in range(0, len(body), 65536))
    resp = served.sender.http.post(
        f"{served.url}/slack/events", content=chunks, headers={"Content-Type": FORM}
    )
    assert resp.status_code == 413
    _assert_clean(app_log.getvalue(), marker)


@sqlite_only
def test_flood_of_unsigned_bodies_writes_a_bounded_log(
    served: Running, app_log: io.StringIO
) -> None:
    """Before: 160 unsigned 1 MB bodies grew the log by 166 MB in 3 s (Bolt logged each body)."""
    before = len(app_log.getvalue())
    body = b"text=" + b"x" * 100_000
    statuses = {_post(served, body, {}).status_code for _ in range(100)}
    assert statuses == {401}
    written = app_log.getvalue()[before:]
    assert len(written.splitlines()) < 5, written[:2000]
    assert len(written) < 2000


@sqlite_only
def test_signed_requests_still_answered_after_junk(
    served: Running, app_log: io.StringIO, fake_slack: FakeSlack
) -> None:
    for _, body, headers in _junk("WARMUP"):
        _post(served, body, headers)
    challenge = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    verify = json.dumps({"token": "t", "challenge": challenge, "type": "url_verification"})
    resp = served.sender.send(verify.encode(), "application/json")
    assert resp.status_code == 200 and resp.json() == {"challenge": challenge}

    command, ctype = slash_command("diffusion caching", response_url=fake_slack.response_url())
    assert served.sender.send(command, ctype).status_code == 200
    [(_, answer)] = fake_slack.wait_for(lambda: fake_slack.response_posts, timeout=10)
    assert "blocks" in answer
    served.app.paperbot_background.shutdown(wait=True)  # type: ignore[attr-defined]
    _assert_clean(app_log.getvalue(), "WARMUP")
    assert BOT_TOKEN not in app_log.getvalue() and TEST_SIGNING_SECRET not in app_log.getvalue()


# --- signed but malformed (issue 17): a quiet 200/400, never a 404/500 or a traceback ------


def _click(
    fake: FakeSlack, action_id: str, value: str, block_id: str = "paging", *, ephemeral: bool
) -> bytes:
    """A signed-shape block_actions body for one forged button (as a hostile client sends)."""
    blocks = [{"type": "actions", "block_id": block_id, "elements": [{
        "type": "button", "action_id": action_id, "value": value,
        "text": {"type": "plain_text", "text": "x"},
    }]}]
    message = None if ephemeral else {"ts": "1700000000.000100", "blocks": blocks}
    body, _ = block_actions(blocks, action_id, response_url=fake.response_url("forged"),
                            message=message)
    return body


def _forged_clicks(fake: FakeSlack) -> list[tuple[str, bytes]]:
    values = {
        "1e400": '{"q": "x", "o": 1e400}',
        "inf": '{"q": "x", "o": Infinity}',
        "nan": '{"q": "x", "o": NaN}',
        "huge int": '{"q": "x", "o": ' + "9" * 4000 + "}",
        "too many digits": '{"q": "x", "o": ' + "9" * 5000 + "}",
        "bool": '{"q": "x", "o": true}',
    }
    clicks = [(f"More {name}", _click(fake, "papers_more", v, ephemeral=True))
              for name, v in values.items()]
    clicks += [(f"Share {name}", _click(fake, "papers_share", v, ephemeral=True))
               for name, v in values.items()]
    clicks += [(f"library More {name}", _click(fake, "team_library_more", v, ephemeral=True))
               for name, v in values.items()]
    lists = {
        "1e400": '{"k": "v", "a": "", "o": 1e400}',
        "huge int": '{"k": "v", "a": "", "o": ' + "9" * 4000 + "}",
        "huge paper": '{"k": "m", "a": ' + "9" * 40 + ', "o": 0}',
    }
    clicks += [(f"list More {name}", _click(fake, "papers_list_more", v, ephemeral=True))
               for name, v in lists.items()]
    views = {
        "1e400": '["s", 1e400, "x"]',
        "huge offset": '["s", ' + "9" * 200 + ', "x"]',
        "huge paper": '["m", 0, ' + "9" * 200 + "]",
        "nan": '["v", NaN, ""]',
    }
    clicks += [(f"Save on view {name}", _click(fake, "paper_save", "1", f"paper_acts_1|{v}",
                                                ephemeral=True)) for name, v in views.items()]
    return clicks


def _malformed_bodies() -> list[tuple[str, bytes, str]]:
    return [
        ("payload= not JSON", b"payload=not-json", FORM),
        ("payload= JSON but not an object", b"payload=%5B1%2C2%5D", FORM),
        ("payload= twice", b"payload=%7B%7D&payload=%7B%7D", FORM),
        ("JSON body not JSON", b"{not json", "application/json"),
        ("JSON body not an object", b"[1, 2]", "application/json"),
        ("JSON body with NaN", b'{"type": NaN}', "application/json"),
        ("empty form", b"", FORM),
    ]


@sqlite_only
def test_signed_but_malformed_requests_get_a_quiet_answer(
    served: Running, app_log: io.StringIO, fake_slack: FakeSlack
) -> None:
    statuses: dict[str, int] = {}
    for name, body, ctype in _malformed_bodies():
        statuses[name] = served.sender.send(body, ctype).status_code
    for name, body in _forged_clicks(fake_slack):
        statuses[name] = served.sender.send(body, FORM).status_code
    served.app.paperbot_background.shutdown(wait=True)  # type: ignore[attr-defined]
    bad = {name: s for name, s in statuses.items() if s not in (200, 400)}
    assert not bad, bad
    log_text = app_log.getvalue()
    _assert_clean(log_text)
    assert " ERROR " not in log_text, log_text[-3000:]
    # Nothing forged was searched or answered with a page of results.
    assert all("blocks" not in p or "Papers " not in str(p) for _, p in fake_slack.response_posts)
