"""Fixtures: the fake Slack Web API and a running PaperBot seeded with the sample corpus."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.slack_api import FakeSlack
from tests.listeners.support import Running, assert_valid_messages, make_services, start


@pytest.fixture(name="fake_slack")
def fake_slack_fixture() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture(name="paperbot")
def paperbot_fixture(db_url: str, tmp_path: Path, fake_slack: FakeSlack) -> Iterator[Running]:
    """PaperBot serving HTTP on 127.0.0.1:<ephemeral> over a seeded database.

    On teardown, everything it sent to Slack is checked against Block Kit's limits.
    """
    running = start(make_services(db_url, tmp_path / "home", fake_slack))
    try:
        yield running
    finally:
        running.stop()
    assert_valid_messages(fake_slack)
