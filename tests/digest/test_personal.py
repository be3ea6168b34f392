"""Personal digests: `/papers subscribe me [at HH:MM]` posts the user's own picks in their DM
with the bot, once a day, exactly once through crashes and kill -9; `unsubscribe me` stops
it; one user's picks never reach another."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.blocks import validate_message
from bot.config import Config
from bot.digest.cycle import run_cycle
from bot.digest.poster import SlackPoster
from bot.digest.settings import Settings
from bot.digest.subscriptions import CommandError, parse
from bot.services import Services
from storage import digest as repo
from storage import feedback
from storage.models import DigestRun, Subscription
from tests.conftest import PAPERBOT
from tests.digest.conftest import (
    LEASE,
    arxiv,
    assert_exactly_once,
    day_entries,
    digest_of,
    digest_poster,
    env_for,
    ids_of,
    shown_order,
    subscribe,
    tomorrow,
)
from tests.digest.test_cycle import Crash, CrashingPoster
from tests.fakes.hf_api import FakeHF
from tests.fakes.slack_api import TEAM_ID, FakeSlack

ALICE_DM = "DU0ALICE"  # the fake's conversations.open: "D" + the user id
BOB_DM = "DU0BOB"


def liked_library(
    services: Services, poster: Any, settings: Settings, fake_hf: FakeHF, user: str = "U0ALICE"
) -> tuple[list[dict], list[int]]:
    """Today's list (3 graph papers) is fetched into the library; `user` saves all three in
    #general (no subscription is due yet). -> (entries, paper ids)."""
    liked = day_entries(3, topic="graph", start=30000, upvotes=5)
    fake_hf.set_day(datetime.now(UTC).date(), liked)
    assert run_cycle(services, poster, settings=settings, always_fetch=True).ok
    ids = ids_of(services, arxiv(liked))
    with services.db.session() as s:
        for pid in ids:
            feedback.set_save(s, TEAM_ID, user, "C0GENERAL", pid, True)
    return liked, ids


# --- the command ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "action", "at", "topic"),
    [
        ("subscribe me", "subscribe", None, ""),
        ("Subscribe ME at 7:30", "subscribe", "07:30", ""),
        ("subscribe me at 6pm", "subscribe", "18:00", ""),
        ("unsubscribe me", "unsubscribe", None, ""),
    ],
)
def test_parse_me(text: str, action: str, at: str | None, topic: str) -> None:
    cmd = parse(text)
    assert (cmd.action, cmd.me, cmd.at, cmd.topic) == (action, True, at, topic)


def test_parse_me_rejects_a_topic_and_keeps_words_starting_with_me() -> None:
    with pytest.raises(CommandError, match="no topic"):
        parse("subscribe me diffusion")
    with pytest.raises(CommandError):
        parse("unsubscribe me now")
    cmd = parse("subscribe meta learning")
    assert (cmd.me, cmd.topic) == (False, "meta learning")


def test_subscribe_me_listing_and_unsubscribe_me(
    services: Services, poster: SlackPoster, fake_slack: FakeSlack
) -> None:
    fake_slack.add_user("U0BOB", tz="America/New_York")
    answer = subscribe(services, poster, "C0GENERAL", "subscribe me at 07:30", "U0BOB")
    assert answer.startswith("Subscribed: you get your own top 5 papers in a DM"), answer
    assert "07:30 (America/New_York)" in answer
    assert [c.params["users"] for c in fake_slack.calls_to("conversations.open")] == ["U0BOB"]
    with services.db.session() as s:
        sub = repo.get_personal(s, TEAM_ID, "U0BOB")
        assert sub is not None
        assert (sub.channel_id, sub.for_user, sub.post_time, sub.tz, sub.topic) == (
            BOB_DM, "U0BOB", "07:30", "America/New_York", "",
        )
        # the channel itself has no subscription: a personal digest is not the channel's
        assert repo.get_subscription(s, TEAM_ID, "C0GENERAL") is None
    assert subscribe(services, poster, "C0GENERAL", "subscribe me", "U0BOB").startswith("Updated")

    listing = subscribe(services, poster, "C0GENERAL", "subscriptions", "U0BOB")
    assert "This channel has no daily digest" in listing
    assert "You also get your own top 5 papers in a DM" in listing
    # someone else's listing does not show Bob's digest
    other = subscribe(services, poster, "C0GENERAL", "subscriptions", "U0ALICE")
    assert "You also get" not in other and "`/papers subscribe me`" in other
    # Alice cannot stop Bob's digest
    assert "no personal digest to stop" in subscribe(
        services, poster, "C0GENERAL", "unsubscribe me", "U0ALICE"
    )
    assert "no more personal digests" in subscribe(
        services, poster, "C0GENERAL", "unsubscribe me", "U0BOB"
    )
    with services.db.session() as s:
        sub = repo.get_personal(s, TEAM_ID, "U0BOB")
        assert sub is not None and not sub.active
    assert "You also get" not in subscribe(services, poster, "C0GENERAL", "subscriptions", "U0BOB")


def test_subscribe_me_when_slack_will_not_open_a_dm(
    services: Services, poster: SlackPoster, fake_slack: FakeSlack
) -> None:
    fake_slack.fail("conversations.open", "cannot_dm_bot")
    answer = subscribe(services, poster, "C0GENERAL", "subscribe me")
    assert "couldn't open a direct message" in answer
    with services.db.session() as s:
        assert s.scalars(select(Subscription)).all() == []


# --- the digest --------------------------------------------------------------------


def test_personal_digest_without_signals_is_trending_once_a_day_in_the_dm(
    services: Services,
    poster: SlackPoster,
    settings: Settings,
    fake_slack: FakeSlack,
    fake_hf: FakeHF,
) -> None:
    assert subscribe(services, poster, "C0GENERAL", "subscribe me at 00:00").startswith(
        "Subscribed"
    )
    entries = day_entries(7)
    fake_hf.set_day(datetime.now(UTC).date(), entries)
    report = run_cycle(services, poster, settings=settings)
    assert report.ok and (report.planned, report.done, report.posts) == (1, 1, 6)
    [(parent, replies)] = digest_of(fake_slack, ALICE_DM)
    assert parent["blocks"][0]["text"]["text"].startswith("Your papers · ")
    assert shown_order(parent) == arxiv(entries)[:5]  # trending: by upvotes
    assert "Trending today, for <@U0ALICE>" in parent["blocks"][1]["elements"][0]["text"]
    assert len(replies) == 5 and all(r["thread_ts"] == parent["ts"] for r in replies)
    for call in fake_slack.calls_to("chat.postMessage"):
        assert validate_message(call.params) == []
    assert fake_slack.posted("C0GENERAL") == []  # only the DM

    report = run_cycle(services, poster, settings=settings)  # same day: nothing more
    assert report.planned == 0 and report.posts == 0
    assert len(fake_slack.posted(ALICE_DM)) == 6
    # Next day: the two papers left over, never the five already given.
    report = run_cycle(services, poster, settings=settings, clock=tomorrow)
    assert report.done == 1
    assert sorted(assert_exactly_once(fake_slack, ALICE_DM)) == ids_of(services, arxiv(entries))


def test_personal_digest_learns_from_its_user_only(
    services: Services,
    poster: SlackPoster,
    settings: Settings,
    fake_slack: FakeSlack,
    fake_hf: FakeHF,
) -> None:
    fake_slack.add_user("U0BOB")
    liked_library(services, poster, settings, fake_hf, user="U0ALICE")
    robots = day_entries(4, topic="robot", start=10000, upvotes=100)
    graphs = day_entries(3, topic="graph", start=20000, upvotes=20)
    fake_hf.set_day(tomorrow().date(), [*robots, *graphs])
    assert run_cycle(services, poster, settings=settings, clock=tomorrow, always_fetch=True).ok
    hidden = ids_of(services, arxiv(graphs))[2]  # this one Alice hid: never in her picks
    with services.db.session() as s:
        feedback.set_hide(s, TEAM_ID, "U0ALICE", "C0GENERAL", hidden, True)
    subscribe(services, poster, "C0GENERAL", "subscribe me at 00:00", "U0ALICE")
    subscribe(services, poster, "C0GENERAL", "subscribe me at 00:00", "U0BOB")
    report = run_cycle(services, poster, settings=settings, clock=tomorrow)
    assert report.ok and report.done == 2, report.problem()

    [(alice, _)] = digest_of(fake_slack, ALICE_DM)
    order = shown_order(alice)
    assert order[:2] == arxiv(graphs)[:2]  # her graph papers first, despite fewer upvotes
    assert arxiv(graphs)[2] not in order  # hidden
    assert not set(order) & set(arxiv(day_entries(3, topic="graph", start=30000)))  # saved
    assert alice["blocks"][1]["elements"][0]["text"] == (
        "Picked for <@U0ALICE>, learned from your 3 saves and reactions"
    )
    [(bob, _)] = digest_of(fake_slack, BOB_DM)
    # Bob gave no signals: the day's trending papers, nothing learned from Alice
    assert shown_order(bob) == [*arxiv(robots), *arxiv(graphs)[:1]]
    assert "U0ALICE" not in str(bob) and "learned" not in str(bob)
    with services.db.session() as s:
        rows = dict(s.execute(select(DigestRun.channel_id, DigestRun.learned_from)).all())
    assert rows == {ALICE_DM: 3, BOB_DM: None}


@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("k", [1, 3])
def test_crash_in_a_personal_digest_is_completed_exactly_once(
    services: Services,
    poster: SlackPoster,
    settings: Settings,
    fake_slack: FakeSlack,
    fake_hf: FakeHF,
    k: int,
    when: str,
) -> None:
    liked, _ = liked_library(services, poster, settings, fake_hf)
    subscribe(services, poster, "C0GENERAL", "subscribe me at 00:00")
    graphs = day_entries(4, topic="graph", start=20000)
    fake_hf.set_day(datetime.now(UTC).date(), [*liked, *graphs])
    with pytest.raises(Crash):
        run_cycle(services, CrashingPoster(poster, k, when), settings=settings, owner="dead")
    assert len(fake_slack.posted(ALICE_DM)) == k - (when == "before")
    assert run_cycle(services, poster, settings=settings).busy == 1  # its lease still runs
    later = lambda: datetime.now(UTC) + timedelta(seconds=LEASE + 1)  # noqa: E731
    report = run_cycle(services, poster, settings=settings, clock=later)
    assert report.ok and report.done == 1
    assert len(digest_of(fake_slack, ALICE_DM)) == 1
    assert sorted(assert_exactly_once(fake_slack, ALICE_DM)) == ids_of(services, arxiv(graphs))
    [(parent, _)] = digest_of(fake_slack, ALICE_DM)
    assert "learned from your 3 saves" in parent["blocks"][1]["elements"][0]["text"]


# --- kill -9 with the real entry point -------------------------------------------------


@pytest.fixture
def env(
    db_url: str,
    tmp_path: Path,
    paperbot_env: dict[str, str],
    fake_slack: FakeSlack,
    fake_hf: FakeHF,
) -> dict[str, str]:
    return {**paperbot_env, **env_for(db_url, tmp_path / "home", fake_slack, fake_hf)}


@pytest.mark.slow
def test_personal_digest_posts_once_per_day_with_a_kill_in_the_middle(
    env: dict[str, str], fake_slack: FakeSlack, fake_hf: FakeHF
) -> None:
    svc = Services.create(Config.from_env(env), seed=False)
    try:
        svc.db.instance_id()  # minted before several processes start (see test_worker_…)
        poster = digest_poster(svc.config)
        settings = Settings.from_config(svc.config)
        liked, _ = liked_library(svc, poster, settings, fake_hf)
        assert subscribe(svc, poster, "C0GENERAL", "subscribe me at 00:00").startswith(
            "Subscribed"
        )
        # Today's list now: the saved papers, 4 more graph papers, 4 robot papers.
        graphs = day_entries(4, topic="graph", start=20000, upvotes=20)
        robots = day_entries(4, topic="robot", start=10000, upvotes=100)
        fake_hf.set_day(datetime.now(UTC).date(), [*liked, *robots, *graphs])
        # Each post is stored, then answered 0.3 s later: a kill in that window leaves a
        # message in the DM whose ts the worker never recorded.
        fake_slack.delay_after("chat.postMessage", 0.3)
        worker = subprocess.Popen(
            [*PAPERBOT, "digest", "--once"], env=env, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )
        try:
            fake_slack.wait_for(lambda: len(fake_slack.posted(ALICE_DM)) >= 3, timeout=30)
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait(timeout=30)
        finally:
            if worker.poll() is None:
                worker.kill()
        assert worker.returncode == -signal.SIGKILL
        killed_at = len(fake_slack.posted(ALICE_DM))
        assert 3 <= killed_at < 6

        time.sleep(LEASE + 0.5)  # the dead worker's lease runs out
        fake_slack.delay_after("chat.postMessage", 0)
        rerun = subprocess.run(
            [*PAPERBOT, "digest", "--once"], env=env, capture_output=True, text=True, timeout=60
        )
        assert rerun.returncode == 0, rerun.stderr
        assert "completed 1" in rerun.stdout, rerun.stdout
        again = subprocess.run(
            [*PAPERBOT, "digest", "--once"], env=env, capture_output=True, text=True, timeout=60
        )
        assert again.returncode == 0 and "planned 0 digests" in again.stdout, again.stdout

        assert fake_slack.calls_to("conversations.replies") or fake_slack.calls_to(
            "conversations.history"
        ), "the interrupted run looked in the DM before posting again"
        [(parent, _)] = digest_of(fake_slack, ALICE_DM)
        papers = assert_exactly_once(fake_slack, ALICE_DM)
        assert len(papers) == 5 and len(fake_slack.posted(ALICE_DM)) == 6
        assert shown_order(parent)[:4] == arxiv(graphs)  # learned: her topic first
        assert "learned from your 3 saves" in parent["blocks"][1]["elements"][0]["text"]
        assert not set(papers) & set(ids_of(svc, arxiv(liked)))  # the saved ones: seen
        assert fake_slack.posted("C0GENERAL") == []
        with svc.db.session() as s:
            assert set(s.scalars(select(DigestRun.status))) == {"done"}
    finally:
        svc.close()
