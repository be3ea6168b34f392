"""The issue's "done when", through the real `paperbot serve` in a subprocess: OAuth mode
offers /slack/install, completes /slack/oauth_redirect, answers a mention in the new
workspace with that workspace's token, still does after a restart, and stops after
app_uninstalled; neither the client secret nor any token reaches the log."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx

from tests.conftest import PAPERBOT
from tests.fakes.signing import TEST_SIGNING_SECRET
from tests.fakes.slack_payloads import JSON, SlackSender
from tests.oauth.fake_oauth import CLIENT_ID, CLIENT_SECRET, OAuthFakeSlack, token_of
from tests.oauth.support import install, mention_from, uninstall_event


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("a") as err:
        proc = subprocess.Popen([*PAPERBOT, "serve"], env=env, stderr=err, text=True)
    url = f"http://127.0.0.1:{env['PORT']}"
    deadline = time.time() + 60
    while time.time() < deadline:
        assert proc.poll() is None, log.read_text()
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("paperbot serve did not become healthy")


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0


def test_paperbot_serve_in_oauth_mode(
    paperbot_env: dict[str, str], fake: OAuthFakeSlack, tmp_path: Path
) -> None:
    port = _free_port()
    env = {
        **paperbot_env, "PAPERBOT_SEED": "1", "PORT": str(port), "LOG_LEVEL": "DEBUG",
        "SLACK_CLIENT_ID": CLIENT_ID, "SLACK_CLIENT_SECRET": CLIENT_SECRET,
        "SLACK_SIGNING_SECRET": TEST_SIGNING_SECRET, "SLACK_API_URL": fake.api_url,
    }
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    sender = SlackSender(f"{url}/slack/events")

    def answers() -> list:
        return fake.calls_with("T0LAB2", "chat.postMessage")

    proc = _serve(env, log)
    try:
        assert install(url, fake, "T0LAB2").status_code == 200
        (token,) = fake.tokens_of("T0LAB2")
        sender.send(mention_from("T0LAB2", "diffusion"), JSON)
        (first,) = fake.wait_for(answers, timeout=15)
        assert token_of(first) == token
        _stop(proc)

        proc = _serve(env, log)  # a restart: the installation is in the database
        sender.send(mention_from("T0LAB2", "transformers"), JSON)
        fake.wait_for(lambda: len(answers()) == 2, timeout=15)
        assert token_of(answers()[-1]) == token

        fake.revoke_team("T0LAB2")
        assert sender.send(uninstall_event("T0LAB2"), JSON).status_code == 200
        time.sleep(0.5)
        sender.send(mention_from("T0LAB2", "retrieval"), JSON)
        deadline = time.time() + 3
        while time.time() < deadline and "no PaperBot installation for team T0LAB2" not in (
            log.read_text()
        ):
            time.sleep(0.1)
        assert len(answers()) == 2  # nothing after the uninstall
        _stop(proc)
    finally:
        sender.close()
        if proc.poll() is None:
            proc.kill()
    logs = log.read_text()
    assert "Traceback" not in logs
    assert "OAuth mode: workspaces install PaperBot at GET /slack/install" in logs
    assert "no PaperBot installation for team T0LAB2" in logs
    assert "T0LAB2: app_uninstalled; installation forgotten" in logs
    assert CLIENT_SECRET not in logs and token not in logs and TEST_SIGNING_SECRET not in logs
