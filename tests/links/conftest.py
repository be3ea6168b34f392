"""Fixtures: fake Slack, Hugging Face and arXiv APIs, and PaperBot pointed at all three."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.links import fetch
from tests.fakes.arxiv_api import FakeArxiv
from tests.fakes.hf_api import FakeHF
from tests.fakes.slack_api import FakeSlack
from tests.listeners.support import Running, assert_valid_messages, make_services, start

TEST_ARXIV_INTERVAL = 0.3  # seconds (PAPERBOT_ARXIV_PACE); production paces arXiv at 3 s


class NoPacing:
    """The arXiv pacer for fetchers tested on their own, with no database: no wait."""

    def wait(self, max_wait: float | None = None) -> None:
        return None


@pytest.fixture(autouse=True)
def _forget_misses() -> Iterator[None]:
    """Every test starts with no remembered misses (fetch.MISSES is one per process)."""
    fetch.MISSES.clear()
    yield
    fetch.MISSES.clear()


@pytest.fixture(name="fake_slack")
def fake_slack_fixture() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture(name="fake_hf")
def fake_hf_fixture() -> Iterator[FakeHF]:
    with FakeHF() as fake:
        yield fake


@pytest.fixture(name="fake_arxiv")
def fake_arxiv_fixture() -> Iterator[FakeArxiv]:
    with FakeArxiv() as fake:
        yield fake


@pytest.fixture(name="paperbot")
def paperbot_fixture(
    db_url: str, tmp_path: Path, fake_slack: FakeSlack, fake_hf: FakeHF, fake_arxiv: FakeArxiv
) -> Iterator[Running]:
    running = start(make_services(
        db_url, tmp_path / "home", fake_slack,
        HF_API_URL=fake_hf.api_url, ARXIV_API_URL=fake_arxiv.api_url,
        PAPERBOT_ARXIV_PACE=str(TEST_ARXIV_INTERVAL),
    ))
    try:
        yield running
    finally:
        running.stop()
    assert_valid_messages(fake_slack)
