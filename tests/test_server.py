"""The HTTP transport: signature checks, health, `paperbot serve` start-up and shutdown."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from storage.models import SlackEventReceipt
from tests.conftest import PAPERBOT
from tests.fakes.signing import TEST_SIGNING_SECRET, signed_headers
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_payloads import app_mention, block_actions, slash_command
from tests.listeners.conftest import fake_slack_fixture, paperbot_fixture  # noqa: F401
from tests.listeners.support import BOT_TOKEN, Running, sqlite_only


def _no_side_effects(running: Running, fake: FakeSlack) -> None:
    time.sleep(0.3)  # give a wrongly accepted request time to show
    assert [c.method for c in fake.calls] == ["auth.test"]  # only the start-up check
    assert fake.response_posts == []
    with running.services.db.session() as s:
        assert s.scalar(select(func.count()).select_from(SlackEventReceipt)) == 0


def test_unsigned_badly_signed_and_stale_requests_get_401(
    paperbot: Running, fake_slack: FakeSlack
) -> None:
    command, ctype = slash_command("diffusion", response_url=fake_slack.response_url())
    event, etype, _ = app_mention("<@UBOT> diffusion")
    more = [{"type": "actions", "elements": [{
        "type": "button", "action_id": "papers_more", "value": '{"q": "diffusion", "o": 5}',
        "text": {"type": "plain_text", "text": "More results"}}]}]
    click, atype = block_actions(more, "papers_more", response_url=fake_slack.response_url())
    sender = paperbot.sender
    for body, kind in ((command, ctype), (event, etype), (click, atype)):
        assert sender.send(body, kind, signed=False).status_code == 401
        assert sender.send(body, kind, secret="not-the-secret").status_code == 401
        stale = int(time.time()) - 6 * 60
        assert sender.send(body, kind, timestamp=stale).status_code == 401
    _no_side_effects(paperbot, fake_slack)


@sqlite_only
def test_health_and_unknown_paths(paperbot: Running) -> None:
    health = httpx.get(f"{paperbot.url}/health")
    assert health.status_code == 200
    size = paperbot.services.search.size
    assert health.json() == {"ok": True, "papers": size, "database": "ok"}
    assert httpx.get(f"{paperbot.url}/nope").status_code == 404
    assert httpx.get(f"{paperbot.url}/slack/events").status_code == 405


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """`paperbot serve`'s environment on a SQLite file (start-up checks need no PostgreSQL)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PAPERBOT_"))}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'paperbot.db'}", PAPERBOT_HOME=str(tmp_path),
        PAPERBOT_SCHEDULER="0", PYTHONUNBUFFERED="1", **extra,
    )
    return env


def test_serve_without_token_says_what_to_set(tmp_path: Path) -> None:
    env = _env(tmp_path)
    proc = subprocess.run(
        [*PAPERBOT, "serve"], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "SLACK_BOT_TOKEN" in proc.stderr and "OAuth & Permissions" in proc.stderr
    assert "SLACK_SIGNING_SECRET" in proc.stderr and "Signing Secret" in proc.stderr

    env["SLACK_BOT_TOKEN"] = BOT_TOKEN
    proc = subprocess.run(
        [*PAPERBOT, "serve"], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "SLACK_SIGNING_SECRET" in proc.stderr
    assert "SLACK_BOT_TOKEN" not in proc.stderr.split("needs", 1)[1].split("\n")[0]
    assert BOT_TOKEN not in proc.stderr


def test_serve_with_rejected_token_fails_cleanly(tmp_path: Path, fake_slack: FakeSlack) -> None:
    fake_slack.fail("auth.test", "invalid_auth")
    env = _env(
        tmp_path, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=TEST_SIGNING_SECRET,
        SLACK_API_URL=fake_slack.api_url, PORT=str(_free_port()),
    )
    proc = subprocess.run(
        [*PAPERBOT, "serve"], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "Slack rejected SLACK_BOT_TOKEN (auth.test: invalid_auth)" in proc.stderr
    assert BOT_TOKEN not in proc.stderr


class FixedAnswer:
    """A local HTTP server answering every request with one fixed response: Slack having a
    bad day (HTTP 5xx, an HTML error page) where auth.test is expected."""

    def __init__(self, status: int, body: bytes, content_type: str) -> None:
        answer = (status, body, content_type)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                code, data, ctype = answer
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.api_url = f"http://127.0.0.1:{self.server.server_address[1]}/api/"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _serve_once(tmp_path: Path, api_url: str) -> subprocess.CompletedProcess[str]:
    env = _env(
        tmp_path, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=TEST_SIGNING_SECRET,
        SLACK_API_URL=api_url, PORT=str(_free_port()),
    )
    return subprocess.run([*PAPERBOT, "serve"], env=env, capture_output=True, text=True,
                          timeout=60)


HTML_500 = b"<html><body><h1>500 Internal Server Error</h1>\nSECRET-PAGE-BODY</body></html>"


@pytest.mark.parametrize(
    ("status", "body", "ctype"),
    [
        (500, HTML_500, "text/html"),
        (503, b'{"ok": false, "error": "service_unavailable"}', "application/json"),
        (200, HTML_500, "text/html"),  # e.g. SLACK_API_URL pointing at some web page
    ],
    ids=["html-500", "json-503", "html-200"],
)
def test_serve_when_slack_is_unavailable_does_not_blame_the_token(
    tmp_path: Path, status: int, body: bytes, ctype: str
) -> None:
    """Before: any failed auth.test said "Slack rejected SLACK_BOT_TOKEN"."""
    slack = FixedAnswer(status, body, ctype)
    try:
        proc = _serve_once(tmp_path, slack.api_url)
    finally:
        slack.close()
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "rejected" not in proc.stderr
    assert "did not answer auth.test usably" in proc.stderr
    assert "SLACK_BOT_TOKEN was not checked" in proc.stderr
    assert BOT_TOKEN not in proc.stderr


def test_serve_when_slack_is_unreachable_says_so(tmp_path: Path) -> None:
    proc = _serve_once(tmp_path, f"http://127.0.0.1:{_free_port()}/api/")  # nothing listens
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and "rejected" not in proc.stderr
    assert "cannot reach the Slack API" in proc.stderr
    assert BOT_TOKEN not in proc.stderr


@pytest.mark.parametrize("code", ["token_revoked", "not_authed"])
def test_serve_with_revoked_token_names_the_reason(
    tmp_path: Path, fake_slack: FakeSlack, code: str
) -> None:
    fake_slack.fail("auth.test", code)
    proc = _serve_once(tmp_path, fake_slack.api_url)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert f"Slack rejected SLACK_BOT_TOKEN (auth.test: {code})" in proc.stderr
    assert BOT_TOKEN not in proc.stderr


def test_serve_on_a_busy_port_says_so(tmp_path: Path, fake_slack: FakeSlack) -> None:
    with socket.socket() as busy:
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        env = _env(
            tmp_path, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=TEST_SIGNING_SECRET,
            SLACK_API_URL=fake_slack.api_url, PORT=str(busy.getsockname()[1]),
        )
        proc = subprocess.run(
            [*PAPERBOT, "serve"], env=env, capture_output=True, text=True, timeout=60
        )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and "set PORT to a free port" in proc.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 30) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        try:
            return httpx.get(f"{url}/health", timeout=1).json()
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError("paperbot serve did not become healthy")


def test_paperbot_serve_answers_and_stops_on_sigterm_without_logging_the_token(
    paperbot_env: dict[str, str], fake_slack: FakeSlack, tmp_path: Path
) -> None:
    port = _free_port()
    env = {
        **paperbot_env, "PAPERBOT_SCHEDULER": "0", "PAPERBOT_SEED": "1",
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": TEST_SIGNING_SECRET, "SLACK_API_URL": fake_slack.api_url,
        "PORT": str(port), "LOG_LEVEL": "DEBUG",
    }
    log_file = tmp_path / "serve.log"
    with log_file.open("w") as err:
        proc = subprocess.Popen([*PAPERBOT, "serve"], env=env, stderr=err, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        assert _wait_healthy(url, proc) == {"ok": True, "papers": 549, "database": "ok"}
        from tests.fakes.slack_payloads import SlackSender

        sender = SlackSender(f"{url}/slack/events")
        body, ctype = slash_command("diffusion caching", response_url=fake_slack.response_url())
        assert sender.send(body, ctype).status_code == 200
        fake_slack.wait_for(lambda: fake_slack.response_posts, timeout=10)
        sender.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    logs = log_file.read_text()
    assert "Traceback" not in logs
    assert "PaperBot stopped" in logs
    assert BOT_TOKEN not in logs and TEST_SIGNING_SECRET not in logs
    [(_, answer)] = fake_slack.response_posts
    assert "blocks" in answer and json.dumps(answer).count("paper_abstract") == 5


@sqlite_only
def test_token_never_in_captured_logs(
    paperbot: Running, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake_slack.fail("chat.postMessage", "not_in_channel")
    fake_slack.fail("conversations.join", "channel_not_found")
    body, ctype, _ = app_mention("<@UBOT> diffusion caching")
    paperbot.sender.send(body, ctype)
    fake_slack.wait_for(lambda: fake_slack.calls_to("chat.postEphemeral"))
    body, ctype = slash_command("diffusion caching", response_url=fake_slack.response_url())
    paperbot.sender.send(body, ctype)
    fake_slack.wait_for(lambda: fake_slack.response_posts)
    paperbot.app.paperbot_background.shutdown(wait=True)
    assert "chat.postMessage" in caplog.text  # the calls were logged…
    assert BOT_TOKEN not in caplog.text  # …without the token
    assert TEST_SIGNING_SECRET not in caplog.text


def test_manifest_and_procfile_match_the_app() -> None:
    root = Path(__file__).resolve().parents[1]
    manifest = (root / "manifest.yml").read_text()
    for needed in ("command: /papers", "usage_hint:", "- app_mention", "- app_uninstalled",
                   "- tokens_revoked", "is_enabled: true"):
        assert needed in manifest
    for scope in ("commands", "chat:write", "chat:write.public", "app_mentions:read",
                  "channels:join", "channels:read", "groups:read", "users:read",
                  "channels:history", "groups:history"):
        assert f"      - {scope}\n" in manifest
    assert manifest.count("https://YOUR-HOST/slack/events") == 3
    procfile = (root / "Procfile").read_text().splitlines()
    assert procfile == ["web: paperbot serve", "worker: paperbot digest"]


def test_credentials_needed_per_transport() -> None:
    from bot.config import Config, ConfigError
    from bot.server import check_credentials

    base = {"PAPERBOT_HOME": "/nonexistent"}
    with pytest.raises(ConfigError, match="SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET"):
        check_credentials(Config.from_env(base))
    # Socket Mode connects out: no signing secret, but still the bot token.
    with pytest.raises(ConfigError) as err:
        check_credentials(Config.from_env({**base, "SLACK_APP_TOKEN": "xapp-1-A-1-abc"}))
    assert "needs SLACK_BOT_TOKEN in" in str(err.value) and "xapp-1-A-1-abc" not in str(err.value)
    check_credentials(Config.from_env({**base, "SLACK_BOT_TOKEN": BOT_TOKEN,
                                       "SLACK_APP_TOKEN": "xapp-1-A-1-abc"}))
    check_credentials(Config.from_env({**base, "SLACK_BOT_TOKEN": BOT_TOKEN,
                                       "SLACK_SIGNING_SECRET": TEST_SIGNING_SECRET}))


def test_credentials_in_oauth_mode() -> None:
    """Client id + secret and no bot token: OAuth over HTTP, which needs the signing secret
    and cannot be Socket Mode; a bot token beside them keeps the one-workspace checks."""
    from bot.config import Config, ConfigError
    from bot.server import check_credentials

    oauth = {"PAPERBOT_HOME": "/nonexistent", "SLACK_CLIENT_ID": "1111111111.2222222222",
             "SLACK_CLIENT_SECRET": "client-secret-value"}
    with pytest.raises(ConfigError, match="needs SLACK_SIGNING_SECRET") as err:
        check_credentials(Config.from_env(oauth))
    assert "SLACK_BOT_TOKEN" not in str(err.value)
    check_credentials(Config.from_env({**oauth, "SLACK_SIGNING_SECRET": TEST_SIGNING_SECRET}))
    with pytest.raises(ConfigError, match=r"SLACK_APP_TOKEN .* cannot go with OAuth") as err:
        check_credentials(Config.from_env({**oauth, "SLACK_SIGNING_SECRET": TEST_SIGNING_SECRET,
                                           "SLACK_APP_TOKEN": "xapp-1-A-1-abc"}))
    assert "client-secret-value" not in str(err.value) and "xapp-1-A-1-abc" not in str(err.value)
    check_credentials(Config.from_env({**oauth, "SLACK_BOT_TOKEN": BOT_TOKEN,
                                       "SLACK_APP_TOKEN": "xapp-1-A-1-abc"}))


@sqlite_only
def test_request_url_verification_challenge(paperbot: Running) -> None:
    """What Slack sends when the Request URL is saved in the app settings."""
    challenge = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    body = json.dumps(
        {"token": "t", "challenge": challenge, "type": "url_verification"}
    ).encode()
    resp = paperbot.sender.send(body, "application/json")
    assert resp.status_code == 200
    assert resp.json() == {"challenge": challenge}
    assert paperbot.sender.send(body, "application/json", signed=False).status_code == 401


def test_idle_keep_alive_connections_do_not_lock_out_a_command(
    paperbot: Running, fake_slack: FakeSlack
) -> None:
    """Clients keep connections alive; 150 idle ones (past waitress's default limit of 100)
    must not make the next request wait for one of them to time out."""
    host, port = paperbot.url.removeprefix("http://").split(":")
    idle = []
    try:
        for _ in range(150):
            conn = socket.create_connection((host, int(port)), timeout=5)
            conn.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            assert conn.recv(4096).startswith(b"HTTP/1.1 200")  # answered, left open
            idle.append(conn)
        body, ctype = slash_command("diffusion", response_url=fake_slack.response_url())
        with httpx.Client(timeout=5) as fresh:
            started = time.monotonic()
            headers = signed_headers(body, content_type=ctype)
            assert fresh.post(paperbot.sender.url, content=body, headers=headers).status_code == 200
            assert time.monotonic() - started < 3  # Slack's window
    finally:
        for conn in idle:
            conn.close()
