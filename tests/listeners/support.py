"""Running PaperBot's real HTTP server in-process against the fake Slack Web API."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from slack_bolt import App

from bot.app import create_app
from bot.blocks import validate_message
from bot.config import Config
from bot.server import HttpServer
from bot.services import Services
from tests.fakes.signing import TEST_SIGNING_SECRET
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_payloads import SlackSender

BOT_TOKEN = "xoxb-1111-2222-testtokenmustneverbelogged"

# For tests of rendering and Slack-side behaviour, where the database backend plays no part:
# run them on SQLite only (the storage-dependent ones run on both backends).
sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

MESSAGE_METHODS = ("chat.postMessage", "chat.postEphemeral", "chat.update")


def make_services(db_url: str, home: Path, fake: FakeSlack, **env: str) -> Services:
    """A process's Services as `paperbot serve` builds them, pointed at the fake Slack."""
    config = Config.from_env({
        "DATABASE_URL": db_url,
        "PAPERBOT_HOME": str(home),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": TEST_SIGNING_SECRET,
        "SLACK_API_URL": fake.api_url,
        "PAPERBOT_SCHEDULER": "0",
        "PAPERBOT_SEED": "1",  # a configured DATABASE_URL is not seeded unless asked
        **env,
    })
    return Services.create(config)


@dataclass
class Running:
    """One PaperBot "replica": services, Bolt app and waitress on an ephemeral port."""

    services: Services
    app: App
    server: HttpServer
    sender: SlackSender
    thread: threading.Thread = field(repr=False)

    @property
    def url(self) -> str:
        return self.server.url

    def stop(self) -> None:
        self.server.stop()
        self.thread.join(10)
        self.app.paperbot_background.shutdown(wait=True)  # type: ignore[attr-defined]
        self.sender.close()
        self.services.close()


def start(services: Services) -> Running:
    services.search.warm()
    app = create_app(services)
    server = HttpServer(services, app, host="127.0.0.1", port=0)
    thread = threading.Thread(target=server.run, name="paperbot-http", daemon=True)
    thread.start()
    return Running(services, app, server, SlackSender(f"{server.url}/slack/events"), thread)


def sent_messages(fake: FakeSlack) -> list[dict[str, Any]]:
    """Every message the app sent: Web API message calls and response_url posts."""
    out = [c.params for m in MESSAGE_METHODS for c in fake.calls_to(m)]
    out += [p for _, p in fake.response_posts if not p.get("delete_original")]
    return out


def assert_valid_messages(fake: FakeSlack) -> None:
    """Block Kit limits hold for everything sent (bot/blocks.py validate_message)."""
    for params in sent_messages(fake):
        problems = validate_message(params)
        assert not problems, f"invalid message sent: {problems}"


def texts(payload: dict[str, Any], *, parsed_only: bool = False) -> list[str]:
    """Every text string in a message payload (fallback text, blocks, buttons).

    parsed_only: just the strings Slack parses for markup (mrkdwn and the fallback text),
    leaving out plain_text objects, which Slack shows literally.
    """
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if parsed_only and node.get("type") == "plain_text":
                return
            for k, v in node.items():
                if k == "text" and isinstance(v, str):
                    found.append(v)
                else:
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(payload)
    return found


def responses(fake: FakeSlack, name: str) -> list[dict[str, Any]]:
    with fake._lock:
        return [p for n, p in fake.response_posts if n == name]
