"""Digest cycles in-process: schedule, content, once per day, isolation, crash recovery."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import update

from bot.blocks import validate_message
from bot.digest.cycle import run_cycle
from bot.digest.poster import SlackPoster
from bot.digest.report import CycleReport
from bot.digest.settings import Settings
from bot.services import Services
from storage import digest as repo
from storage.models import Subscription
from tests.digest.conftest import (
    LEASE,
    assert_exactly_once,
    day_entries,
    digest_of,
    subscribe,
)
from tests.fakes.hf_api import FakeHF, hf_entry
from tests.fakes.slack_api import TEAM_ID, FakeSlack

NY = ZoneInfo("America/New_York")


def cycle(services: Services, poster: Any, settings: Settings, **kw: Any) -> CycleReport:
    return run_cycle(services, poster, settings=settings, **kw)


def at_ny(day: date, hh: int, mm: int) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=NY)


def test_daily_digest_fires_at_local_time_once_with_abstracts_in_thread(
    services: Services,
    poster: SlackPoster,
    settings: Settings,
    fake_slack: FakeSlack,
    fake_hf: FakeHF,
) -> None:
    fake_slack.add_user("U0NY", tz="America/New_York")
    fake_slack.add_channel("C1", "papers", is_member=False)
    assert subscribe(services, poster, "C1", "subscribe", "U0NY").startswith("Subscribed")
    day1 = date(2025, 8, 19)
    entries = day_entries(7, upvotes=50)
    entries[3]["paper"]["upvotes"] = 99  # most upvoted, listed fourth
    entries[4]["paper"]["summary"] = "Robots & <grippers> " + "long abstract words " * 400
    fake_hf.set_day(day1, entries)

    with time_machine.travel(at_ny(day1, 8, 59)):
        report = cycle(services, poster, settings)
    assert fake_slack.posted("C1") == [] and fake_hf.requests == []
    assert report.ok and report.planned == 0

    with time_machine.travel(at_ny(day1, 9, 1)):
        report = cycle(services, poster, settings)
    assert report.ok and (report.planned, report.done, report.posts) == (1, 1, 6)
    [(parent, replies)] = digest_of(fake_slack, "C1")
    header = parent["blocks"][0]
    assert header["type"] == "header" and "Tue 19 Aug 2025" in header["text"]["text"]
    sections = [b["text"]["text"] for b in parent["blocks"] if b["type"] == "section"]
    assert len(sections) == 5  # PAPERBOT_DIGEST_SIZE
    assert "2508.10003" in sections[0] and "▲ 99 upvotes" in sections[0]  # ranked by upvotes
    assert "<https://huggingface.co/papers/2508.10003|" in sections[0]
    assert "Ada Lovelace, Alan Turing" in sections[0]
    assert [int(s.split("▲ ")[1].split()[0]) for s in sections] == [99, 50, 49, 48, 46]
    assert len(replies) == 5 and all(r["thread_ts"] == parent["ts"] for r in replies)
    first_reply = " ".join(b["text"]["text"] for b in replies[0]["blocks"] if "text" in b)
    assert "We present a robot method number 10003" in first_reply
    def abstract_start(reply: dict) -> str:  # after the title (and the Hub's links line)
        return [b for b in reply["blocks"] if b["type"] == "section"][1]["text"]["text"]

    long_reply = next(r for r in replies if "Robots" in abstract_start(r))
    assert len(long_reply["blocks"]) >= 4  # a ~8,000-char abstract split over sections
    assert "Robots &amp; &lt;grippers&gt;" in abstract_start(long_reply)
    for call in fake_slack.calls_to("chat.postMessage"):
        assert validate_message(call.params) == []

    # Later the same day: nothing is due, nothing fetched, nothing posted.
    with time_machine.travel(at_ny(day1, 15, 0)):
        report = cycle(services, poster, settings)
    assert report.planned == 0 and len(fake_slack.posted("C1")) == 6
    assert len(fake_hf.requests) == settings.fetch_days

    # Next day: yesterday's leftovers and today's new papers, none posted before.
    day2 = day1 + timedelta(days=1)
    fake_hf.set_day(day2, [*entries[:3], *day_entries(2, start=20000, upvotes=10)])
    with time_machine.travel(at_ny(day2, 9, 0)):
        report = cycle(services, poster, settings)
    assert report.done == 1
    papers = assert_exactly_once(fake_slack, "C1")
    assert len(papers) == 9  # 7 from day 1 + 2 new, each once

    # A day with nothing new posts nothing.
    day3 = day2 + timedelta(days=1)
    fake_hf.set_day(day3, entries)
    with time_machine.travel(at_ny(day3, 10, 0)):
        report = cycle(services, poster, settings)
    assert (report.planned, report.empty, report.posts) == (1, 1, 0)
    assert len(digest_of(fake_slack, "C1")) == 2


def test_topic_subscription_gets_only_matching_papers(
    services: Services,
    poster: SlackPoster,
    settings: Settings,
    fake_slack: FakeSlack,
    fake_hf: FakeHF,
) -> None:
    subscribe(services, poster, "C0GENERAL", "subscribe diffusion at 00:00")
    fake_slack.add_channel("C2", "all")
    subscribe(services, poster, "C2", "subscribe at 00:00")
    today = datetime.now(UTC).date()
    entries = [
        hf_entry(
            "2508.00001",
            "Diffusion models for video",
            upvotes=3,
            summary="A latent diffusion model; diffusion steps are cached.",
        ),
        hf_entry(
            "2508.00002",
            "Robot grasping at scale",
            upvotes=50,
            summary="Grasping with robot arms in clutter.",
        ),
        hf_entry(
            "2508.00003",
            "Faster sampling",
            upvotes=9,
            summary="We speed up diffusion sampling with a better solver.",
        ),
        hf_entry(
            "2508.00004",
            "Language agents",
            upvotes=20,
            summary="Tool use for language model agents.",
        ),
    ]
    # BM25 weighs words against a library (seed=False leaves it empty): yesterday's list
    # brings a dozen papers about something else.
    fake_hf.set_day(today - timedelta(days=1), day_entries(12, topic="graph", upvotes=12))
    fake_hf.set_day(today, entries)
    report = cycle(services, poster, settings)
    assert report.ok and report.done == 2
    [(parent, replies)] = digest_of(fake_slack, "C0GENERAL")
    assert "diffusion" in parent["blocks"][0]["text"]["text"]
    shown = " ".join(b["text"]["text"] for b in parent["blocks"] if b["type"] == "section")
    assert "2508.00003" in shown and "2508.00001" in shown
    assert "2508.00002" not in shown and "2508.00004" not in shown
    assert shown.index("2508.00003") < shown.index("2508.00001")  # by upvotes
    assert len(replies) == 2
    assert len(digest_of(fake_slack, "C2")[0][1]) == 5  # no topic: the top 5 of all


def test_a_failing_channel_does_not_stop_the_others(
    services: Services,
    poster: SlackPoster,
    settings: Settings,
    fake_slack: FakeSlack,
    fake_hf: FakeHF,
) -> None:
    for ch in ("CARCH", "CGONE", "CKICK", "COK", "CFLAKY"):
        fake_slack.add_channel(ch, ch.lower())
        subscribe(services, poster, ch, "subscribe at 00:00")
    fake_slack.channels["CARCH"].is_archived = True
    fake_slack.channels["CGONE"].exists = False
    fake_slack.channels["CKICK"].is_member = False
    fake_slack.fail("chat.postMessage", "internal_error", channel="CFLAKY")
    fake_hf.set_day(datetime.now(UTC).date(), day_entries(3))

    report = cycle(services, poster, settings)
    assert sorted(report.deactivated) == [
        "CARCH (is_archived)",
        "CGONE (channel_not_found)",
        "CKICK (not_in_channel)",
    ]
    assert report.deferred and "internal_error" in report.problem()
    assert len(fake_slack.posted("COK")) == 4
    with services.db.session() as s:
        reasons = {
            ch: (sub.active, sub.inactive_reason)
            for ch in ("CARCH", "CGONE", "CKICK", "COK")
            if (sub := repo.get_subscription(s, TEAM_ID, ch))
        }
    assert reasons == {
        "CARCH": (False, "is_archived"),
        "CGONE": (False, "channel_not_found"),
        "CKICK": (False, "not_in_channel"),
        "COK": (True, None),
    }
    # The flaky channel's digest is retried next cycle and completed once.
    report = cycle(services, poster, settings)
    assert report.ok and report.done == 1
    assert len(assert_exactly_once(fake_slack, "CFLAKY")) == 3
    assert len(fake_slack.posted("COK")) == 4


def test_rate_limited_posts_wait_and_retry(
    services: Services,
    poster: SlackPoster,
    settings: Settings,
    fake_slack: FakeSlack,
    fake_hf: FakeHF,
) -> None:
    subscribe(services, poster, "C0GENERAL", "subscribe at 00:00")
    fake_hf.set_day(datetime.now(UTC).date(), day_entries(2))
    fake_slack.rate_limit("chat.postMessage", times=1, retry_after=1)
    report = cycle(services, poster, settings)
    assert report.ok and report.done == 1
    assert len(assert_exactly_once(fake_slack, "C0GENERAL")) == 2
    assert len(fake_slack.calls_to("chat.postMessage")) == 4  # 3 posts + 1 rate-limited


def test_fetch_failure_is_reported_and_plans_nothing(
    services: Services,
    poster: SlackPoster,
    settings: Settings,
    fake_slack: FakeSlack,
    fake_hf: FakeHF,
) -> None:
    subscribe(services, poster, "C0GENERAL", "subscribe at 00:00")
    fake_hf.set_day(datetime.now(UTC).date(), day_entries(2))
    fake_hf.mode = "garbage"
    report = cycle(services, poster, settings)
    assert "not JSON" in (report.problem() or "") and report.planned == 0
    assert fake_slack.posted("C0GENERAL") == []
    fake_hf.mode = "ok"
    report = cycle(services, poster, settings)
    assert report.ok and report.done == 1


class Crash(BaseException):
    """Stands in for kill -9: nothing after it runs, no cleanup, no except Exception."""


class CrashingPoster:
    """Delegates to the real poster; dies before, or right after, the k-th post."""

    def __init__(self, real: SlackPoster, k: int, when: str) -> None:
        self.real, self.k, self.when, self.n = real, k, when, 0

    def post(self, *args: Any, **kwargs: Any) -> str:
        self.n += 1
        if self.n == self.k and self.when == "before":
            raise Crash  # intent recorded, nothing sent
        ts = self.real.post(*args, **kwargs)
        if self.n == self.k and self.when == "after":
            raise Crash  # sent, ts never recorded
        return ts

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("k", [1, 2, 4])
def test_crash_at_any_post_is_completed_exactly_once(
    services: Services,
    poster: SlackPoster,
    settings: Settings,
    fake_slack: FakeSlack,
    fake_hf: FakeHF,
    k: int,
    when: str,
) -> None:
    subscribe(services, poster, "C0GENERAL", "subscribe at 00:00")
    fake_hf.set_day(datetime.now(UTC).date(), day_entries(4))
    with pytest.raises(Crash):
        cycle(services, CrashingPoster(poster, k, when), settings, owner="dead-worker")
    assert len(fake_slack.posted("C0GENERAL")) == k - (when == "before")

    # While the dead worker's lease runs, another worker leaves the run alone...
    report = cycle(services, poster, settings)
    assert report.busy == 1 and len(fake_slack.posted("C0GENERAL")) == k - (when == "before")
    # ...and once it expired, finishes it: each paper once, all in the day's thread.
    later = lambda: datetime.now(UTC) + timedelta(seconds=LEASE + 1)  # noqa: E731
    report = cycle(services, poster, settings, clock=later)
    assert report.ok and report.done == 1
    assert len(digest_of(fake_slack, "C0GENERAL")) == 1
    assert len(assert_exactly_once(fake_slack, "C0GENERAL")) == 4
    if when == "after":  # the unrecorded message was found in Slack, not posted again
        looked = "conversations.history" if k == 1 else "conversations.replies"
        assert fake_slack.calls_to(looked)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the full matrix, once
def test_every_crash_point_on_sqlite(
    services: Services,
    poster: SlackPoster,
    settings: Settings,
    fake_slack: FakeSlack,
    fake_hf: FakeHF,
) -> None:
    """Kill between any two Slack calls of a 4-paper digest, one channel per crash point."""
    fake_hf.set_day(datetime.now(UTC).date(), day_entries(4))
    clock_offset = 0.0
    for k in range(1, 6):
        for when in ("before", "after"):
            ch = f"C{k}{when[0].upper()}"
            fake_slack.add_channel(ch, ch.lower())
            subscribe(services, poster, ch, "subscribe at 00:00")
            crashing = CrashingPoster(poster, k, when)
            with pytest.raises(Crash):  # earlier channels are done; this one dies at post k
                cycle(
                    services,
                    crashing,
                    settings,
                    owner=f"dead-{ch}",
                    clock=lambda o=clock_offset: datetime.now(UTC) + timedelta(seconds=o),
                )
            clock_offset += LEASE + 1
            report = cycle(
                services,
                poster,
                settings,
                clock=lambda o=clock_offset: datetime.now(UTC) + timedelta(seconds=o),
            )
            assert report.ok, report.problem()
            assert len(assert_exactly_once(fake_slack, ch)) == 4, (k, when)
            assert len(digest_of(fake_slack, ch)) == 1


def test_resubscribing_drops_a_digest_left_unstarted_while_off(
    services: Services,
    poster: SlackPoster,
    settings: Settings,
    fake_slack: FakeSlack,
    fake_hf: FakeHF,
) -> None:
    subscribe(services, poster, "C0GENERAL", "subscribe at 00:00")
    fake_hf.set_day(datetime.now(UTC).date(), day_entries(3))
    fake_slack.fail("chat.postMessage", "internal_error")
    assert cycle(services, poster, settings).deferred  # planned, nothing posted
    assert "no more" in subscribe(services, poster, "C0GENERAL", "unsubscribe")
    assert cycle(services, poster, settings).done == 0  # off: the open run waits
    subscribe(services, poster, "C0GENERAL", "subscribe at 00:00")
    report = cycle(services, poster, settings)  # planned afresh for today, papers released
    assert report.ok and (report.planned, report.done) == (1, 1)
    assert len(assert_exactly_once(fake_slack, "C0GENERAL")) == 3


def test_start_scheduler_runs_a_cycle_in_process_and_shuts_down(
    services: Services, poster: SlackPoster, fake_slack: FakeSlack, fake_hf: FakeHF
) -> None:
    from bot.digest.scheduler import start_scheduler
    from bot.slack_api import make_client

    subscribe(services, poster, "C0GENERAL", "subscribe at 00:00")
    fake_hf.set_day(datetime.now(UTC).date(), day_entries(2))
    config = services.config
    app_client = make_client(str(config.slack_bot_token), config.slack_api_url)
    sched = start_scheduler(services, app_client)
    try:
        fake_slack.wait_for(lambda: len(fake_slack.posted("C0GENERAL")) == 3, timeout=10)
    finally:
        sched.shutdown()
    assert len(assert_exactly_once(fake_slack, "C0GENERAL")) == 2
    auth = {c.headers["authorization"] for c in fake_slack.calls_to("chat.postMessage")}
    assert auth == {f"Bearer {services.config.slack_bot_token}"}


def test_a_refused_token_stops_the_cycle_without_deactivating_anything(
    services: Services,
    poster: SlackPoster,
    settings: Settings,
    fake_slack: FakeSlack,
    fake_hf: FakeHF,
) -> None:
    subscribe(services, poster, "C0GENERAL", "subscribe at 00:00")
    fake_hf.set_day(datetime.now(UTC).date(), day_entries(2))
    fake_slack.fail("chat.postMessage", "invalid_auth")
    report = cycle(services, poster, settings)
    assert report.problem() == "digest stopped: Slack refused the bot token: invalid_auth"
    assert not report.deactivated
    report = cycle(services, poster, settings)  # token fixed: the same digest goes out
    assert report.ok and report.done == 1
    assert len(assert_exactly_once(fake_slack, "C0GENERAL")) == 2


def test_a_corrupted_subscription_is_skipped_and_the_others_still_post(
    services: Services,
    poster: SlackPoster,
    settings: Settings,
    fake_slack: FakeSlack,
    fake_hf: FakeHF,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Defect: one stored post_time "25:99" raised out of the due-scan, so no channel got
    its digest. Each subscription is now checked on its own; a bad one is logged, skipped."""
    for ch in ("CBADTIME", "CBADTZ", "COK"):
        fake_slack.add_channel(ch, ch.lower())
        subscribe(services, poster, ch, "subscribe at 00:00")
    with services.db.session() as s:
        s.execute(
            update(Subscription)
            .where(Subscription.channel_id == "CBADTIME")
            .values(post_time="25:99")
        )
        s.execute(
            update(Subscription).where(Subscription.channel_id == "CBADTZ").values(tz="Nowhere/X")
        )
    fake_hf.set_day(datetime.now(UTC).date(), day_entries(3))
    with caplog.at_level("WARNING"):
        report = cycle(services, poster, settings)
    assert report.done == 1
    assert len(assert_exactly_once(fake_slack, "COK")) == 3
    assert fake_slack.posted("CBADTIME") == [] and fake_slack.posted("CBADTZ") == []
    lines = [r.getMessage() for r in caplog.records]
    assert any("CBADTIME" in m and "25:99" in m for m in lines), lines
    assert any("CBADTZ" in m and "Nowhere/X" in m for m in lines), lines
