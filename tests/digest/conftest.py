"""Digest fixtures: fake Slack and HF servers, services on each backend, and helpers."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.config import Config
from bot.digest import subscriptions
from bot.digest.poster import SlackPoster
from bot.digest.settings import Settings
from bot.services import Services
from bot.slack_api import make_client
from storage import digest as repo
from tests.fakes.hf_api import FakeHF, hf_entry
from tests.fakes.slack_api import TEAM_ID, FakeSlack

BOT_TOKEN = "xoxb-1111-2222-digesttokennevershown"
LEASE = 2.0  # seconds; production default is 300


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        fake.add_user("U0ALICE", tz="UTC")
        yield fake


@pytest.fixture
def fake_hf() -> Iterator[FakeHF]:
    with FakeHF() as fake:
        yield fake


def env_for(db_url: str, home: Path, slack: FakeSlack, hf: FakeHF, **extra: str) -> dict[str, str]:
    return {
        "DATABASE_URL": db_url,
        "PAPERBOT_HOME": str(home),
        "PAPERBOT_INDEX_DIR": str(home / "index"),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_API_URL": slack.api_url,
        "HF_API_URL": hf.api_url,
        "PAPERBOT_SEED": "0",
        "PAPERBOT_SCHEDULER": "0",
        "PAPERBOT_DIGEST_LEASE": str(LEASE),
        **extra,
    }


@pytest.fixture
def services(
    db_url: str, tmp_path: Path, fake_slack: FakeSlack, fake_hf: FakeHF
) -> Iterator[Services]:
    config = Config.from_env(env_for(db_url, tmp_path / "home", fake_slack, fake_hf))
    svc = Services.create(config, seed=False)
    yield svc
    svc.close()


@pytest.fixture
def poster(services: Services) -> SlackPoster:
    return digest_poster(services.config)


@pytest.fixture
def settings(services: Services) -> Settings:
    # In-process runs take the short test lease here; subprocesses get it from the env.
    return dataclasses.replace(Settings.from_config(services.config), lease=LEASE)


def digest_poster(config: Config) -> SlackPoster:
    """A poster built like the digest's: one client from bot.slack_api, no connection retries."""
    return SlackPoster(
        make_client(str(config.slack_bot_token), config.slack_api_url, retry_connections=False)
    )


def subscribe(
    services: Services,
    poster: SlackPoster,
    channel: str,
    text: str = "subscribe",
    user: str = "U0ALICE",
) -> str:
    return subscriptions.handle(
        services, poster, team_id=TEAM_ID, channel_id=channel, user_id=user, text=text
    )


def day_entries(
    n: int, *, prefix: str = "2508", start: int = 10000, topic: str = "robot", upvotes: int = 100
) -> list[dict[str, Any]]:
    """n entries with distinct ids and falling upvotes (the first is the most upvoted)."""
    return [
        hf_entry(
            f"{prefix}.{start + i:05d}",
            f"{topic.title()} paper {start + i} on {topic} learning",
            summary=f"We present a {topic} method number {start + i}. " * 3,
            upvotes=upvotes - i,
        )
        for i in range(n)
    ]


def set_days(hf: FakeHF, day: date, entries: list[dict[str, Any]]) -> None:
    hf.set_day(day, entries)


def digest_of(slack: FakeSlack, channel: str) -> list[tuple[dict, list[dict]]]:
    """Each day message in `channel` with its thread replies, oldest first."""
    msgs = slack.posted(channel)
    parents = [m for m in msgs if "thread_ts" not in m]
    return [(p, [m for m in msgs if m.get("thread_ts") == p["ts"]]) for p in parents]


def assert_exactly_once(slack: FakeSlack, channel: str) -> list[int]:
    """Every message threaded under a digest; each paper once in the channel. -> paper ids."""
    msgs = slack.posted(channel)
    parents = {m["ts"]: m for m in msgs if "thread_ts" not in m}
    run_keys = Counter(p["metadata"]["event_payload"]["run_key"] for p in parents.values())
    assert all(n == 1 for n in run_keys.values()), f"a day message was posted twice: {run_keys}"
    papers: list[int] = []
    for m in msgs:
        if "thread_ts" in m:
            assert m["thread_ts"] in parents, "a reply outside any digest thread"
            payload = m["metadata"]["event_payload"]
            parent = parents[m["thread_ts"]]["metadata"]["event_payload"]
            assert payload["run_key"] == parent["run_key"], "reply in another day's thread"
            papers.append(payload["paper_id"])
    dupes = [p for p, n in Counter(papers).items() if n > 1]
    assert not dupes, f"papers posted more than once in {channel}: {dupes}"
    return papers


def arxiv(entries: list[dict]) -> list[str]:
    return [e["paper"]["id"] for e in entries]


def ids_of(services: Services, arxiv_ids: list[str]) -> list[int]:
    """Our paper ids for arXiv ids, in the same order."""
    with services.db.session() as s:
        found = repo.paper_ids_by_arxiv(s, arxiv_ids)
    return [found[a] for a in arxiv_ids]


def shown_order(parent: dict) -> list[str]:
    """arXiv ids of the day message's papers, in the order shown."""
    return [
        b["text"]["text"].split("huggingface.co/papers/")[1].split("|")[0]
        for b in parent["blocks"]
        if b["type"] == "section"
    ]


def tomorrow() -> datetime:
    return datetime.now(UTC) + timedelta(days=1)
