"""Fixtures: OAuthFakeSlack and PaperBot serving in OAuth mode on a migrated database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.listeners.support import Running, assert_valid_messages, start
from tests.oauth.fake_oauth import OAuthFakeSlack
from tests.oauth.support import oauth_services


@pytest.fixture(name="fake")
def fake_fixture() -> Iterator[OAuthFakeSlack]:
    fake = OAuthFakeSlack().start()
    fake.add_workspace("T0LAB1", "First Lab")
    fake.add_workspace("T0LAB2", "Second Lab")
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture(name="served")
def served_fixture(db_url: str, tmp_path: Path, fake: OAuthFakeSlack) -> Iterator[Running]:
    running = start(oauth_services(db_url, tmp_path / "home", fake))
    try:
        yield running
    finally:
        running.stop()
    assert_valid_messages(fake)
