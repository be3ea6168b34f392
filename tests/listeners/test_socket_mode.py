"""`paperbot serve` in Socket Mode: events and commands over a WebSocket, answered once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path
from urllib.parse import parse_qsl

from tests.conftest import PAPERBOT
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_payloads import app_mention, slash_command
from tests.listeners.socket_fake import FakeSocketMode
from tests.listeners.support import BOT_TOKEN, assert_valid_messages

APP_TOKEN = "xapp-1-A0PAPERBOT-1234-notforlogs"


def test_socket_mode_answers_mentions_once_and_commands(
    fake_slack: FakeSlack, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PAPERBOT_"))}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'paperbot.db'}", PAPERBOT_HOME=str(tmp_path),
        PAPERBOT_SCHEDULER="0", PAPERBOT_SEED="1", SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_APP_TOKEN=APP_TOKEN,
        SLACK_API_URL=fake_slack.api_url, LOG_LEVEL="DEBUG", PYTHONUNBUFFERED="1",
    )  # no SLACK_SIGNING_SECRET: Socket Mode does not need one
    log_file = tmp_path / "serve.log"
    with FakeSocketMode() as ws:
        fake_slack.socket_mode_url = ws.url
        with log_file.open("w") as err:
            proc = subprocess.Popen([*PAPERBOT, "serve"], env=env, stderr=err)
        try:
            ws.wait_connected()
            _, _, event = app_mention("<@UBOT> diffusion caching")
            for attempt, envelope_id in enumerate(("env-1", "env-2")):  # original + retry
                ws.send({
                    "envelope_id": envelope_id, "type": "events_api",
                    "accepts_response_payload": False, "retry_attempt": attempt,
                    "retry_reason": "timeout" if attempt else "", "payload": event,
                })
                ws.wait_for_ack(envelope_id)
            ts = event["event"]["ts"]
            fake_slack.wait_for(
                lambda: [m for m in fake_slack.posted() if m.get("thread_ts") == ts]
            )

            body, _ = slash_command("video generation", response_url=fake_slack.response_url("s"))
            ws.send({
                "envelope_id": "env-3", "type": "slash_commands",
                "accepts_response_payload": True, "payload": dict(parse_qsl(body.decode())),
            })
            ws.wait_for_ack("env-3")
            fake_slack.wait_for(lambda: fake_slack.response_posts)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=20) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
    assert len(fake_slack.calls_to("chat.postMessage")) == 1  # the retry was not answered
    [(_, answer)] = fake_slack.response_posts
    assert json.dumps(answer).count("paper_abstract") == 5
    assert_valid_messages(fake_slack)
    logs = log_file.read_text()
    assert "Traceback" not in logs and "Socket Mode" in logs
    assert APP_TOKEN not in logs and BOT_TOKEN not in logs
