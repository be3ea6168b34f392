"""`paperbot digest --once [--now]` in-process through `bot.cli.main`: what a new subscriber
sees (when each digest is next due) and posting today's digest on demand, once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine

from bot.cli import main
from bot.digest.poster import SlackPoster
from bot.services import Services
from tests.digest.conftest import assert_exactly_once, day_entries, digest_of, env_for, subscribe
from tests.fakes.hf_api import FakeHF
from tests.fakes.slack_api import FakeSlack

# 06:00 UTC is 01:00 in New York: a 09:00 subscriber's digest is 8 hours away.
NOW = datetime(2026, 11, 26, 6, 0, tzinfo=UTC)


@pytest.fixture
def cli_env(
    monkeypatch: pytest.MonkeyPatch,
    db_url: str,
    tmp_path: Path,
    fake_slack: FakeSlack,
    fake_hf: FakeHF,
    services: Services,  # the same database and home as `services`
) -> None:
    for key, value in env_for(db_url, tmp_path / "home", fake_slack, fake_hf).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("LOG_LEVEL", raising=False)


def digest(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["digest", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.usefixtures("cli_env")
def test_once_says_when_each_digest_is_due_and_now_posts_todays_once(
    services: Services,
    poster: SlackPoster,
    fake_slack: FakeSlack,
    fake_hf: FakeHF,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake_slack.add_user("U0NY", tz="America/New_York")
    fake_slack.add_channel("C123", "papers")
    fake_slack.add_channel("C456", "robots")
    with time_machine.travel(NOW):
        subscribe(services, poster, "C123", "subscribe at 09:00", "U0NY")
        subscribe(services, poster, "C456", "subscribe robot learning at 09:30", "U0NY")
        fake_hf.set_day(NOW.date(), day_entries(6))
        # BM25 weighs a topic against the library: yesterday's list is about something else.
        fake_hf.set_day(NOW.date() - timedelta(days=1), day_entries(12, topic="graph", start=30000))

        # Cron's `--once`: nothing is due yet, and it says when each digest will be.
        code, out, err = digest(capsys, "--once")
        assert code == 0, err
        assert fake_slack.posted() == []
        assert (
            "#C123 (all trending papers): next digest 2026-11-26 09:00 America/New_York (in 8 h)"
            in out
        ), out
        assert (
            "#C456 (topic “robot learning”): next digest 2026-11-26 09:30 America/New_York"
            in out
        ), out

        # `--once --now`: today's digest now, to every active subscription.
        code, out, err = digest(capsys, "--once", "--now")
        assert code == 0, err
        assert "completed 2 with" in out, out
        assert len(digest_of(fake_slack, "C123")) == 1 and len(digest_of(fake_slack, "C456")) == 1
        assert "#C123 (all trending papers): next digest 2026-11-27 09:00" in out, out
        posted = len(fake_slack.posted())

        # Again the same day: nothing new, and it says why.
        code, out, err = digest(capsys, "--once", "--now")
        assert code == 0, err
        assert len(fake_slack.posted()) == posted
        assert "already had today's digest" in out, out
        assert len(assert_exactly_once(fake_slack, "C123")) == 5

    # At 09:05 in New York cron's `--once` finds today's digest done: nothing again.
    with time_machine.travel(NOW + timedelta(hours=8, minutes=5)):
        code, out, err = digest(capsys, "--once")
    assert code == 0 and len(fake_slack.posted()) == posted
    assert "planned 0 digests" in out and "next digest 2026-11-27 09:00" in out, out


@pytest.mark.usefixtures("cli_env")
def test_now_needs_once(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = digest(capsys, "--now")
    assert code == 2 and "--now" in err and "--once" in err


@pytest.mark.usefixtures("cli_env")
def test_once_lists_a_personal_digest_and_now_posts_it_in_the_dm(
    services: Services,
    poster: SlackPoster,
    fake_slack: FakeSlack,
    fake_hf: FakeHF,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake_slack.add_user("U0NY", tz="America/New_York")
    with time_machine.travel(NOW):
        subscribe(services, poster, "C0GENERAL", "subscribe me at 08:15", "U0NY")
        fake_hf.set_day(NOW.date(), day_entries(3))
        code, out, err = digest(capsys, "--once")
        assert code == 0, err
        assert (
            "#DU0NY (personal digest of U0NY): next digest 2026-11-26 08:15 America/New_York"
            in out
        ), out
        code, out, err = digest(capsys, "--once", "--now")
        assert code == 0 and "completed 1 with 4 messages" in out, (out, err)
    assert len(assert_exactly_once(fake_slack, "DU0NY")) == 3
    assert fake_slack.posted("C0GENERAL") == []
