"""arXiv source fixtures: the fake feeds/OAI server and the real CLI against it."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PAPERBOT, make_cli_env
from tests.fakes.arxiv_feeds import FakeArxivFeeds


@pytest.fixture
def fake_arxiv() -> Iterator[FakeArxivFeeds]:
    with FakeArxivFeeds() as fake:
        yield fake


@pytest.fixture
def arxiv_env(db_url: str, tmp_path: Path, fake_arxiv: FakeArxivFeeds) -> dict[str, str]:
    env = make_cli_env(db_url, tmp_path)
    env.update(
        PAPERBOT_ARXIV_RSS_URL=fake_arxiv.rss_url,
        PAPERBOT_ARXIV_OAI_URL=fake_arxiv.oai_url,
        PAPERBOT_ARXIV_PACE="0.2",
        PAPERBOT_SEED="0",
    )
    return env


def run(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*PAPERBOT, *args], env=env, capture_output=True, text=True, timeout=timeout
    )
