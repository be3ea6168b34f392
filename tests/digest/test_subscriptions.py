"""`/papers subscribe|unsubscribe|subscriptions`: parsing, joining, time zones, storage."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from bot.digest.poster import SlackPoster
from bot.digest.subscriptions import CommandError, is_subscription_command, parse
from bot.services import Services
from storage import digest as repo
from storage.models import Subscription
from tests.digest.conftest import subscribe
from tests.fakes.slack_api import TEAM_ID, FakeSlack


@pytest.mark.parametrize(
    ("text", "action", "topic", "at"),
    [
        ("subscribe", "subscribe", "", None),
        ("Subscribe  diffusion   models", "subscribe", "diffusion models", None),
        ("subscribe at 8:30", "subscribe", "", "08:30"),
        ("subscribe speculative decoding at 17:05", "subscribe", "speculative decoding", "17:05"),
        ("subscribe robots at 6pm", "subscribe", "robots", "18:00"),
        ("subscribe at 12am", "subscribe", "", "00:00"),
        ("subscribe attention at 9", "subscribe", "attention", "09:00"),
        ("unsubscribe", "unsubscribe", "", None),
        ("subscriptions", "subscriptions", "", None),
    ],
)
def test_parse(text: str, action: str, topic: str, at: str | None) -> None:
    cmd = parse(text)
    assert (cmd.action, cmd.topic, cmd.at) == (action, topic, at)


@pytest.mark.parametrize(
    "text",
    [
        "subscribe at 25:00",
        "subscribe at 9:75",
        "subscribe at",
        "unsubscribe now",
        "subscribe " + "x" * 300,
    ],
)
def test_parse_rejects(text: str) -> None:
    with pytest.raises(CommandError):
        parse(text)


def test_matcher_takes_only_the_three_first_words() -> None:
    assert is_subscription_command("subscribe")
    assert is_subscription_command("  Unsubscribe")
    assert is_subscription_command("subscriptions")
    assert not is_subscription_command("subscribers in social networks")
    assert not is_subscription_command("diffusion subscribe")
    assert not is_subscription_command("")


def test_subscribe_joins_a_public_channel_and_uses_the_users_time_zone(
    services: Services, poster: SlackPoster, fake_slack: FakeSlack
) -> None:
    fake_slack.add_channel("C1", "papers", is_member=False)
    fake_slack.add_user("U0BOB", tz="America/New_York")
    answer = subscribe(services, poster, "C1", "subscribe diffusion models at 07:45", "U0BOB")
    assert answer.startswith("Subscribed"), answer
    assert "07:45 (America/New_York)" in answer and "diffusion models" in answer
    assert [c.params["channel"] for c in fake_slack.calls_to("conversations.join")] == ["C1"]
    with services.db.session() as s:
        sub = repo.get_subscription(s, TEAM_ID, "C1")
        assert sub is not None
        assert (sub.topic, sub.post_time, sub.tz, sub.created_by, sub.active) == (
            "diffusion models",
            "07:45",
            "America/New_York",
            "U0BOB",
            True,
        )

    # Subscribing again updates the one subscription; the listing shows it.
    assert subscribe(services, poster, "C1", "subscribe", "U0BOB").startswith("Updated")
    listing = subscribe(services, poster, "C1", "subscriptions")
    assert "09:00 (America/New_York)" in listing and "about" not in listing


def test_private_channel_asks_for_an_invite(
    services: Services, poster: SlackPoster, fake_slack: FakeSlack
) -> None:
    fake_slack.add_channel("G1", "secret", is_private=True, is_member=False)
    answer = subscribe(services, poster, "G1")
    assert "/invite @paperbot" in answer
    with services.db.session() as s:
        assert repo.get_subscription(s, TEAM_ID, "G1") is None
    fake_slack.add_channel("G2", "secret2", is_private=True, is_member=True)
    assert subscribe(services, poster, "G2").startswith("Subscribed")


def test_failed_join_and_archived_channel(
    services: Services, poster: SlackPoster, fake_slack: FakeSlack
) -> None:
    fake_slack.add_channel("C2", "x", is_member=False)
    fake_slack.fail("conversations.join", "restricted_action")
    assert "/invite @paperbot" in subscribe(services, poster, "C2")
    fake_slack.add_channel("C3", "old", is_archived=True)
    assert "archived" in subscribe(services, poster, "C3")


def test_unknown_time_zone_falls_back_to_utc(
    services: Services, poster: SlackPoster, fake_slack: FakeSlack
) -> None:
    fake_slack.add_user("U0MARS", tz="Mars/Olympus_Mons")
    assert "(UTC)" in subscribe(services, poster, "C0GENERAL", "subscribe", "U0MARS")
    assert "(UTC)" in subscribe(services, poster, "C0GENERAL", "subscribe", "U0NOBODY")


def test_unsubscribe_and_listing(services: Services, poster: SlackPoster) -> None:
    assert "no daily digest" in subscribe(services, poster, "C0GENERAL", "subscriptions")
    assert "no daily digest to stop" in subscribe(services, poster, "C0GENERAL", "unsubscribe")
    subscribe(services, poster, "C0GENERAL", "subscribe")
    assert "gets the top 5 trending papers" in subscribe(
        services, poster, "C0GENERAL", "subscriptions"
    )
    assert "no more daily digests" in subscribe(services, poster, "C0GENERAL", "unsubscribe")
    listing = subscribe(services, poster, "C0GENERAL", "subscriptions")
    assert "no daily digest" in listing and "<@U0ALICE> unsubscribed it" in listing


def test_topic_of_only_common_words_is_refused(services: Services, poster: SlackPoster) -> None:
    answer = subscribe(services, poster, "C0GENERAL", "subscribe the of and")
    assert "can't be matched" in answer
    with services.db.session() as s:
        assert repo.get_subscription(s, TEAM_ID, "C0GENERAL") is None


def test_concurrent_subscribes_for_one_channel_all_get_an_answer_and_one_row(
    services: Services, poster: SlackPoster, fake_slack: FakeSlack
) -> None:
    """Eight people type `/papers subscribe` in one channel at once (defect: on PostgreSQL
    all but one raised IntegrityError and got no answer). Four channels, to hit the race."""
    threads = 8
    for n in range(4):
        channel = f"CRACE{n}"
        fake_slack.add_channel(channel, channel.lower())
        start = threading.Barrier(threads)

        def one(i: int, channel: str = channel, start: threading.Barrier = start) -> str:
            start.wait()
            return subscribe(services, poster, channel, f"subscribe at {i:02d}:15")

        with ThreadPoolExecutor(threads) as pool:
            answers = list(pool.map(one, range(threads)))
        assert sum(a.startswith("Subscribed") for a in answers) == 1, answers
        assert sum(a.startswith("Updated") for a in answers) == threads - 1, answers
        with services.db.session() as s:
            rows = s.scalars(select(Subscription).where(Subscription.channel_id == channel))
            assert [r.active for r in rows] == [True]
