"""`paperbot digest --once --now` (the worker's entry point, bot.cli.main) in OAuth mode:
no SLACK_BOT_TOKEN needed; each subscription posts with its own workspace's token."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.cli import main
from tests.digest.conftest import day_entries
from tests.fakes.hf_api import FakeHF
from tests.fakes.slack_payloads import FORM
from tests.listeners.support import responses, start
from tests.oauth.fake_oauth import CLIENT_ID, CLIENT_SECRET, OAuthFakeSlack, token_of
from tests.oauth.support import command_from, install, oauth_services


def test_digest_once_in_oauth_mode_posts_with_each_workspaces_token(
    db_url: str, tmp_path: Path, fake: OAuthFakeSlack, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake.add_user("U0ALICE", tz="UTC")
    channels = {"T0LAB1": "C1FIRST", "T0LAB2": "C2SECOND"}
    running = start(oauth_services(db_url, tmp_path / "home", fake))
    try:
        for team, channel in channels.items():
            fake.add_channel(channel, channel.lower())
            install(running, fake, team)
            body = command_from(team, "subscribe", response_url=fake.response_url(team),
                                channel_id=channel)
            running.sender.send(body, FORM)
            fake.wait_for(lambda t=team: responses(fake, t))
    finally:
        running.stop()

    with FakeHF() as hf:
        hf.set_day(datetime.now(UTC).date(), day_entries(2))
        env = {
            "DATABASE_URL": db_url, "PAPERBOT_HOME": str(tmp_path / "home"),
            "SLACK_CLIENT_ID": CLIENT_ID, "SLACK_CLIENT_SECRET": CLIENT_SECRET,
            "SLACK_API_URL": fake.api_url, "HF_API_URL": hf.api_url, "PAPERBOT_SEED": "0",
        }
        monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
        monkeypatch.delenv("LOG_LEVEL", raising=False)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        code = main(["digest", "--once", "--now"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert CLIENT_SECRET not in out + err
    for team, channel in channels.items():
        posts = [c for c in fake.calls_to("chat.postMessage") if c.params["channel"] == channel]
        assert len(posts) == 3  # the day message and two abstracts
        assert {token_of(c) for c in posts} == set(fake.tokens_of(team))
