"""Follows fixtures: the fake Slack, fake Hub and fake arXiv, and PaperBot over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.arxiv_feeds import FakeArxivFeeds
from tests.fakes.hf_api import FakeHF
from tests.fakes.slack_api import FakeSlack
from tests.listeners.support import Running, assert_valid_messages, make_services, start


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        for user in ("U0ALICE", "U0BOB", "U0CAROL"):
            fake.add_user(user)
        yield fake
        assert_valid_messages(fake)


@pytest.fixture
def fake_hf() -> Iterator[FakeHF]:
    with FakeHF() as fake:
        yield fake


@pytest.fixture
def fake_arxiv() -> Iterator[FakeArxivFeeds]:
    with FakeArxivFeeds() as fake:
        yield fake


@pytest.fixture
def paperbot(db_url: str, tmp_path: Path, fake_slack: FakeSlack) -> Iterator[Running]:
    running = start(make_services(db_url, tmp_path / "home", fake_slack, PAPERBOT_SEED="0"))
    try:
        yield running
    finally:
        running.stop()
