"""Subscriptions through the real app: signed slash commands and lifecycle events over HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.digest.cycle import run_cycle
from bot.digest.poster import SlackPoster
from storage import digest as repo
from tests.digest.conftest import digest_of
from tests.fakes.hf_api import FakeHF, hf_entry
from tests.fakes.slack_api import TEAM_ID, FakeSlack
from tests.fakes.slack_payloads import API_APP_ID, JSON, slash_command
from tests.listeners.support import Running, assert_valid_messages, make_services, responses, start

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def paperbot(
    db_url: str, tmp_path: Path, fake_slack: FakeSlack, fake_hf: FakeHF
) -> Iterator[Running]:
    """The Slack app over HTTP, with the sample corpus (a library for topic matching)."""
    running = start(
        make_services(db_url, tmp_path / "home", fake_slack, HF_API_URL=fake_hf.api_url)
    )
    try:
        yield running
    finally:
        running.stop()
    assert_valid_messages(fake_slack)


def command(paperbot: Running, fake: FakeSlack, text: str, name: str, **kw: Any) -> str:
    body, ctype = slash_command(text, response_url=fake.response_url(name), **kw)
    resp = paperbot.sender.send(body, ctype)
    assert resp.status_code == 200
    fake.wait_for(lambda: responses(fake, name), timeout=10)
    [answer] = responses(fake, name)
    assert answer["response_type"] == "ephemeral"
    return " ".join(b["text"]["text"] for b in answer["blocks"] if b["type"] == "section")


def lifecycle_event(event: dict[str, Any], n: int) -> tuple[bytes, str]:
    body = {
        "token": "legacy-verification-token",
        "team_id": TEAM_ID,
        "api_app_id": API_APP_ID,
        "event": {**event, "event_ts": f"{int(time.time())}.000{n}"},
        "type": "event_callback",
        "event_id": f"EvLIFE{n:06d}",
        "event_time": int(time.time()),
    }
    return json.dumps(body).encode(), JSON


def active(paperbot: Running, channel: str) -> tuple[bool, str | None]:
    with paperbot.services.db.session() as s:
        sub = repo.get_subscription(s, TEAM_ID, channel)
        assert sub is not None
        return sub.active, sub.inactive_reason


def test_subscribe_by_slash_command_then_topic_digest_then_uninstall(
    paperbot: Running, fake_slack: FakeSlack, fake_hf: FakeHF
) -> None:
    fake_slack.add_user("U0ALICE", tz="Europe/Berlin")
    fake_slack.add_channel("C1", "llm-serving", is_member=False)
    said = command(
        paperbot, fake_slack, "subscribe speculative decoding at 07:00", "s1", channel_id="C1"
    )
    assert said.startswith("Subscribed") and "07:00 (Europe/Berlin)" in said
    assert "speculative decoding" in said
    assert fake_slack.calls_to("conversations.join")
    listing = command(paperbot, fake_slack, "subscriptions", "s2", channel_id="C1")
    assert "speculative decoding" in listing and "<@U0ALICE>" in listing
    # Other first words are searches, answered by the general /papers listener.
    search = command(paperbot, fake_slack, "subscribers retention", "s3", channel_id="C1")
    assert "daily digest" not in search

    now = datetime.now(BERLIN).replace(hour=7, minute=1)
    fake_hf.set_day(
        now.astimezone(ZoneInfo("UTC")).date(),
        [
            hf_entry(
                "2508.20001",
                "Speculative decoding with tree drafts",
                upvotes=5,
                summary="Speculative decoding accelerates LLM inference; a draft model "
                "proposes tokens that the target model verifies in one pass.",
            ),
            hf_entry(
                "2508.20002",
                "Robotic grasping in clutter",
                upvotes=80,
                summary="A robot learns to grasp objects in cluttered bins.",
            ),
            hf_entry(
                "2508.20003",
                "Lookahead decoding without a draft",
                upvotes=7,
                summary="We speed up decoding of large language models with speculative "
                "lookahead and parallel verification.",
            ),
            hf_entry(
                "2508.20004",
                "Protein folding at scale",
                upvotes=60,
                summary="Structure prediction for proteins with a new transformer.",
            ),
        ],
    )
    poster = SlackPoster(paperbot.app.client)
    report = run_cycle(paperbot.services, poster, clock=lambda: now)
    assert report.ok and report.done == 1, report.problem()
    [(parent, replies)] = digest_of(fake_slack, "C1")
    shown = " ".join(b["text"]["text"] for b in parent["blocks"] if b["type"] == "section")
    assert "2508.20003" in shown and "2508.20001" in shown
    assert "2508.20002" not in shown and "2508.20004" not in shown
    assert len(replies) == 2

    # user tokens revoked: digests go on; bot token revoked / app uninstalled: they stop.
    body, ctype = lifecycle_event({"type": "tokens_revoked", "tokens": {"oauth": ["U0ALICE"]}}, 1)
    assert paperbot.sender.send(body, ctype).status_code == 200
    time.sleep(0.3)
    assert active(paperbot, "C1") == (True, None)
    body, ctype = lifecycle_event({"type": "app_uninstalled"}, 2)
    assert paperbot.sender.send(body, ctype).status_code == 200
    fake_slack.wait_for(lambda: not active(paperbot, "C1")[0], timeout=5)
    assert active(paperbot, "C1") == (False, "app_uninstalled")
    assert "stopped: PaperBot was uninstalled" in command(
        paperbot, fake_slack, "subscriptions", "s4", channel_id="C1"
    )

    command(paperbot, fake_slack, "subscribe", "s5", channel_id="C1")
    assert active(paperbot, "C1") == (True, None)
    body, ctype = lifecycle_event({"type": "tokens_revoked", "tokens": {"bot": ["UBOT"]}}, 3)
    assert paperbot.sender.send(body, ctype).status_code == 200
    fake_slack.wait_for(lambda: not active(paperbot, "C1")[0], timeout=5)
    assert active(paperbot, "C1") == (False, "tokens_revoked")


def test_subscribe_me_by_slash_command_posts_in_the_dm_and_unsubscribe_me_stops_it(
    paperbot: Running, fake_slack: FakeSlack, fake_hf: FakeHF
) -> None:
    fake_slack.add_user("U0ALICE", tz="Europe/Berlin")
    said = command(paperbot, fake_slack, "subscribe me at 06:30", "p1", channel_id="C0GENERAL")
    assert said.startswith("Subscribed: you get your own top") and "06:30 (Europe/Berlin)" in said
    assert "You also get" in command(paperbot, fake_slack, "subscriptions", "p2")

    now = datetime.now(BERLIN).replace(hour=6, minute=31)
    fake_hf.set_day(
        now.astimezone(ZoneInfo("UTC")).date(),
        [hf_entry("2508.30001", "Graph transformers", upvotes=3)],
    )
    report = run_cycle(paperbot.services, SlackPoster(paperbot.app.client), clock=lambda: now)
    assert report.ok and report.done == 1, report.problem()
    [(parent, replies)] = digest_of(fake_slack, "DU0ALICE")
    assert parent["blocks"][0]["text"]["text"].startswith("Your papers")
    assert len(replies) == 1 and fake_slack.posted("C0GENERAL") == []

    assert "no more personal digests" in command(paperbot, fake_slack, "unsubscribe me", "p3")
    with paperbot.services.db.session() as s:
        sub = repo.get_personal(s, TEAM_ID, "U0ALICE")
        assert sub is not None and (sub.active, sub.channel_id) == (False, "DU0ALICE")
