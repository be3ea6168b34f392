"""App Home in OAuth mode: each workspace's Home is built from its own data and published
with its own token (two workspaces, the same user id in both, as Slack allows)."""

from __future__ import annotations

import time
from typing import Any

from storage import feedback as fb
from tests.fakes.slack_payloads import app_home_opened
from tests.home.test_home import ids_in, sections
from tests.listeners.support import Running
from tests.oauth.conftest import fake_fixture
from tests.oauth.fake_oauth import OAuthFakeSlack, token_of
from tests.oauth.test_isolation import FIRST, SECOND, click, command, two_fixture

__all__ = ["fake_fixture", "two_fixture"]


def published_with(fake: OAuthFakeSlack, team: str) -> dict[str, Any]:
    call = fake.wait_for(lambda: fake.calls_with(team, "views.publish"))[-1]
    assert call.params["user_id"] == "U0ALICE"
    return call.params["view"]


def test_each_workspaces_home_is_its_own_and_published_with_its_token(
    two: Running, fake: OAuthFakeSlack
) -> None:
    found = command(two, fake, FIRST, "diffusion caching", "search1")
    click(two, fake, FIRST, found["blocks"], "paper_save", "save1")
    deadline = time.monotonic() + 5
    saved: list[int] = []
    while not saved and time.monotonic() < deadline:
        with two.services.db.session() as s:
            saved = fb.saved_ids(s, FIRST, "U0ALICE")
        time.sleep(0.02)
    assert len(saved) == 1

    for team in (FIRST, SECOND):
        body, ctype, _ = app_home_opened(team_id=team)
        assert two.sender.send(body, ctype).status_code == 200
    first, second = published_with(fake, FIRST), published_with(fake, SECOND)
    assert ids_in(sections(first)["Your saved papers"]) == saved
    assert ids_in(sections(second)["Your saved papers"]) == []
    assert ids_in(sections(second)["Latest in the team library"]) == []
    # users.conversations and views.publish went out with each workspace's own token
    for team in (FIRST, SECOND):
        tokens = set(fake.tokens_of(team))
        for method in ("users.conversations", "views.publish"):
            calls = fake.calls_with(team, method)
            assert len(calls) == 1 and token_of(calls[0]) in tokens
