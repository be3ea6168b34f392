"""The real `paperbot digest` entry point in subprocesses: once, twice, failing, concurrent
workers, kill -9 midway, and the scheduler worker stopping on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.config import Config
from bot.services import Services
from storage.models import DigestRun
from tests.conftest import PAPERBOT
from tests.digest.conftest import (
    LEASE,
    assert_exactly_once,
    day_entries,
    digest_of,
    digest_poster,
    env_for,
    subscribe,
)
from tests.fakes.hf_api import FakeHF
from tests.fakes.slack_api import FakeSlack


@pytest.fixture
def env(
    db_url: str,
    tmp_path: Path,
    paperbot_env: dict[str, str],
    fake_slack: FakeSlack,
    fake_hf: FakeHF,
) -> dict[str, str]:
    return {**paperbot_env, **env_for(db_url, tmp_path / "home", fake_slack, fake_hf)}


@pytest.fixture
def setup_services(env: dict[str, str]) -> Services:
    svc = Services.create(Config.from_env(env), seed=False)
    # Mint the database's instance id now: storage.db.Database.instance_id reads, then
    # writes, in one SQLite transaction, which fails at once ("database is locked") when
    # several fresh processes race to mint it (reported to the lead; not digest code).
    svc.db.instance_id()
    yield svc
    svc.close()


def subscribe_channels(svc: Services, fake_slack: FakeSlack, channels: list[str]) -> None:
    poster = digest_poster(svc.config)
    for ch in channels:
        if ch not in fake_slack.channels:
            fake_slack.add_channel(ch, ch.lower())
        assert subscribe(svc, poster, ch, "subscribe at 00:00").startswith("Subscribed")


def run_once(env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PAPERBOT, "digest", "--once"], env=env, capture_output=True, text=True, timeout=timeout
    )


def test_once_twice_posts_one_digest_then_nothing(
    env: dict[str, str], setup_services: Services, fake_slack: FakeSlack, fake_hf: FakeHF
) -> None:
    subscribe_channels(setup_services, fake_slack, ["C0GENERAL"])
    fake_hf.set_day(datetime.now(UTC).date(), day_entries(6))
    first = run_once(env)
    assert first.returncode == 0, first.stderr
    assert "completed 1 with 6 messages" in first.stdout
    second = run_once(env)
    assert second.returncode == 0, second.stderr
    assert "planned 0 digests" in second.stdout
    [(parent, replies)] = digest_of(fake_slack, "C0GENERAL")
    assert len(replies) == 5 and all(r["thread_ts"] == parent["ts"] for r in replies)
    assert len(assert_exactly_once(fake_slack, "C0GENERAL")) == 5


def test_once_reports_a_failed_fetch_in_one_line(
    env: dict[str, str], setup_services: Services, fake_slack: FakeSlack, fake_hf: FakeHF
) -> None:
    subscribe_channels(setup_services, fake_slack, ["C0GENERAL"])
    fake_hf.mode = "garbage"
    result = run_once(env)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("paperbot: digest fetch failed") and "not JSON" in last
    assert fake_slack.posted("C0GENERAL") == []


def test_once_without_a_token_says_what_to_set(env: dict[str, str]) -> None:
    env = {k: v for k, v in env.items() if k != "SLACK_BOT_TOKEN"}
    result = run_once(env)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "SLACK_BOT_TOKEN" in result.stderr.strip().splitlines()[-1]


@pytest.mark.slow
def test_three_workers_one_killed_midway_each_paper_once(
    db_url: str,
    env: dict[str, str],
    setup_services: Services,
    fake_slack: FakeSlack,
    fake_hf: FakeHF,
) -> None:
    channels = ["C1", "C2", "C3"]
    subscribe_channels(setup_services, fake_slack, channels)
    fake_hf.set_day(datetime.now(UTC).date(), day_entries(4))
    # Each post is stored at once but answered 0.3 s later: a kill in that window leaves a
    # message in Slack whose ts the worker never recorded.
    fake_slack.delay_after("chat.postMessage", 0.3)
    workers = [
        subprocess.Popen(
            [*PAPERBOT, "digest", "--once"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    try:
        fake_slack.wait_for(lambda: len(fake_slack.posted()) >= 4, timeout=30)
        with setup_services.db.session() as s:
            owners = s.scalars(
                select(DigestRun.lease_owner).where(DigestRun.status == "posting")
            ).all()
        pids = {int(o.split(":")[1]) for o in owners if o}
        victim = next(w for w in workers if w.pid in pids)
        os.kill(victim.pid, signal.SIGKILL)
        for w in workers:
            w.wait(timeout=60)
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
    assert victim.returncode == -signal.SIGKILL
    for w in workers:
        if w is not victim:
            assert w.returncode == 0, w.stderr.read()

    time.sleep(LEASE + 0.5)  # the dead worker's lease runs out; a restart finishes its run
    fake_slack.delay_after("chat.postMessage", 0)
    rerun = run_once(env)
    assert rerun.returncode == 0, rerun.stderr
    looked = fake_slack.calls_to("conversations.history") + fake_slack.calls_to(
        "conversations.replies"
    )
    assert looked, "the interrupted run checked Slack before posting again"
    for ch in channels:
        assert len(digest_of(fake_slack, ch)) == 1
        assert sorted(assert_exactly_once(fake_slack, ch)) == sorted(
            set(assert_exactly_once(fake_slack, ch))
        )
        assert len(assert_exactly_once(fake_slack, ch)) == 4
    assert len(fake_slack.posted()) == 15
    with setup_services.db.session() as s:
        assert set(s.scalars(select(DigestRun.status))) == {"done"}


@pytest.mark.slow
def test_worker_runs_cycles_until_sigterm(
    env: dict[str, str], setup_services: Services, fake_slack: FakeSlack, fake_hf: FakeHF
) -> None:
    subscribe_channels(setup_services, fake_slack, ["C0GENERAL"])
    fake_hf.set_day(datetime.now(UTC).date(), day_entries(2))
    worker = subprocess.Popen(
        [*PAPERBOT, "digest"],
        env={**env, "PAPERBOT_DIGEST_INTERVAL": "0.5"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        fake_slack.wait_for(lambda: len(fake_slack.posted("C0GENERAL")) == 3, timeout=30)
        time.sleep(1.2)  # more cycles run; nothing more is posted
        assert len(fake_slack.posted("C0GENERAL")) == 3
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=15)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == 0, worker.stderr.read()
