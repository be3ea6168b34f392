"""@mentions end to end: answered in a thread, once per event_id (retries, replicas)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import func, select

from storage.models import SlackEventReceipt
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_payloads import app_mention, slack_ts
from tests.listeners.support import (
    Running,
    assert_valid_messages,
    make_services,
    sqlite_only,
    start,
    texts,
)


def _thread_replies(fake: FakeSlack, channel: str, thread_ts: str, count: int = 1) -> list:
    def replies() -> list:
        return [m for m in fake.posted(channel) if m.get("thread_ts") == thread_ts]

    fake.wait_for(lambda: len(replies()) >= count)
    return replies()


def test_mention_in_channel_is_answered_in_its_thread(
    paperbot: Running, fake_slack: FakeSlack
) -> None:
    body, ctype, payload = app_mention("<@UBOT> diffusion caching")
    assert paperbot.sender.send(body, ctype).status_code == 200
    ts = payload["event"]["ts"]
    [reply] = _thread_replies(fake_slack, "C0GENERAL", ts)
    sections = [b for b in reply["blocks"] if b["type"] == "section"]
    assert len(sections) == 5
    assert all("cach" in s["text"]["text"].lower() for s in sections)
    assert "UBOT" not in " ".join(texts(reply))  # the mention token was stripped
    # Visible to all: no "Share in channel" on a channel answer.
    assert "papers_share" not in str(reply["blocks"])


def test_mention_inside_a_thread_is_answered_in_that_thread(
    paperbot: Running, fake_slack: FakeSlack
) -> None:
    parent = slack_ts()
    body, ctype, _ = app_mention(
        "what about <@UBOT> video generation <@U0BOB>", thread_ts=parent
    )
    assert paperbot.sender.send(body, ctype).status_code == 200
    [reply] = _thread_replies(fake_slack, "C0GENERAL", parent)
    assert "video" in " ".join(texts(reply)).lower()


@sqlite_only
def test_bare_mention_gets_help(paperbot: Running, fake_slack: FakeSlack) -> None:
    body, ctype, payload = app_mention("<@UBOT>")
    paperbot.sender.send(body, ctype)
    [reply] = _thread_replies(fake_slack, "C0GENERAL", payload["event"]["ts"])
    assert "/papers subscribe" in " ".join(texts(reply))


def test_retried_event_is_answered_once(paperbot: Running, fake_slack: FakeSlack) -> None:
    body, ctype, payload = app_mention("<@UBOT> speculative decoding", event_id="EvRETRY00001")
    assert paperbot.sender.send(body, ctype).status_code == 200
    for n in (1, 2):
        assert paperbot.sender.send(body, ctype, retry_num=n).status_code == 200
    _thread_replies(fake_slack, "C0GENERAL", payload["event"]["ts"])
    paperbot.app.paperbot_background.shutdown(wait=True)  # every answer started has finished
    assert len(fake_slack.calls_to("chat.postMessage")) == 1
    with paperbot.services.db.session() as s:
        assert s.scalar(select(func.count()).select_from(SlackEventReceipt)) == 1


def test_two_replicas_on_one_database_answer_a_retried_event_once(
    db_url: str, tmp_path: Path, fake_slack: FakeSlack
) -> None:
    a = start(make_services(db_url, tmp_path / "a", fake_slack))
    b = start(make_services(db_url, tmp_path / "b", fake_slack))
    try:
        body, ctype, payload = app_mention("<@UBOT> mixture of experts", event_id="EvREPLICA001")
        # Slack's retry lands on the other replica, and a restart would not help either.
        assert a.sender.send(body, ctype).status_code == 200
        assert b.sender.send(body, ctype, retry_num=1).status_code == 200
        assert b.sender.send(body, ctype, retry_num=2).status_code == 200
        _thread_replies(fake_slack, "C0GENERAL", payload["event"]["ts"])
    finally:
        a.stop()
        b.stop()
    assert len(fake_slack.calls_to("chat.postMessage")) == 1
    # A restarted process (fresh services) still knows the event.
    c = start(make_services(db_url, tmp_path / "c", fake_slack))
    try:
        assert c.sender.send(body, ctype, retry_num=3).status_code == 200
    finally:
        c.stop()
    assert len(fake_slack.calls_to("chat.postMessage")) == 1
    assert_valid_messages(fake_slack)


@sqlite_only
def test_not_in_channel_joins_and_answers(paperbot: Running, fake_slack: FakeSlack) -> None:
    fake_slack.add_channel("C0PUBLIC", "papers", is_member=False)
    body, ctype, payload = app_mention("<@UBOT> diffusion caching", channel="C0PUBLIC")
    paperbot.sender.send(body, ctype)
    [reply] = _thread_replies(fake_slack, "C0PUBLIC", payload["event"]["ts"])
    assert reply["blocks"]
    assert [c.params["channel"] for c in fake_slack.calls_to("conversations.join")] == ["C0PUBLIC"]


@sqlite_only
def test_private_channel_without_membership_is_logged_not_crashed(
    paperbot: Running, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    fake_slack.add_channel("G0PRIVATE", "secret", is_private=True, is_member=False)
    caplog.set_level(logging.INFO)
    body, ctype, _ = app_mention("<@UBOT> diffusion caching", channel="G0PRIVATE")
    assert paperbot.sender.send(body, ctype).status_code == 200
    fake_slack.wait_for(lambda: fake_slack.calls_to("chat.postEphemeral"))
    paperbot.app.paperbot_background.shutdown(wait=True)
    hint = fake_slack.calls_to("chat.postEphemeral")[0].params
    assert hint["user"] == "U0ALICE" and "/invite @paperbot" in " ".join(texts(hint))
    failures = [r for r in caplog.records if "failed: not_in_channel" in r.getMessage()]
    assert len(failures) == 1
    assert not [r for r in caplog.records if r.exc_info]  # no traceback for a Slack error


@sqlite_only
def test_rate_limited_reply_is_retried_after_retry_after(
    paperbot: Running, fake_slack: FakeSlack
) -> None:
    fake_slack.rate_limit("chat.postMessage", retry_after=1)
    body, ctype, payload = app_mention("<@UBOT> diffusion caching")
    paperbot.sender.send(body, ctype)
    _thread_replies(fake_slack, "C0GENERAL", payload["event"]["ts"])
    first, second = fake_slack.calls_to("chat.postMessage")
    assert second.at - first.at >= 1.0  # waited as told by Retry-After


# --- mentions that are conversation, not a query (issue 17) ----------------------------


@sqlite_only
@pytest.mark.parametrize("text", [
    "<@UBOT> thanks!",
    "thank you so much <@UBOT> :pray:",
    "hi <@UBOT> 👋",
    "<@UBOT> can you come to the meeting?",
    "<@UBOT> are you there?",
    "<@UBOT> ok, cool",
])
def test_a_mention_without_a_query_gets_a_short_help_not_a_search(
    paperbot: Running, fake_slack: FakeSlack, text: str
) -> None:
    body, ctype, payload = app_mention(text)
    assert paperbot.sender.send(body, ctype).status_code == 200
    [reply] = _thread_replies(fake_slack, "C0GENERAL", payload["event"]["ts"])
    shown = " ".join(texts(reply))
    assert "paper_acts_" not in str(reply["blocks"])  # no results
    assert "No papers match" not in shown
    assert "@paperbot diffusion caching" in shown and "/papers help" in shown


@sqlite_only
@pytest.mark.parametrize("text", [
    "<@UBOT> can you find papers on diffusion caching?",
    "thanks <@UBOT>, diffusion caching please",
])
def test_a_query_wrapped_in_conversation_is_still_searched(
    paperbot: Running, fake_slack: FakeSlack, text: str
) -> None:
    body, ctype, payload = app_mention(text)
    assert paperbot.sender.send(body, ctype).status_code == 200
    [reply] = _thread_replies(fake_slack, "C0GENERAL", payload["event"]["ts"])
    assert "paper_acts_" in str(reply["blocks"])
    assert "cach" in " ".join(texts(reply)).lower()
