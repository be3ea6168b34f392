"""Two workspaces on one PaperBot: each sees only its own subscriptions, saves and
recommendations (the public paper library stays shared), and its digest goes out with its
own token; a workspace whose installation is gone loses its digests, the other keeps them."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import pytest

from bot.digest.cycle import run_cycle
from bot.digest.poster import team_posters
from bot.digest.report import CycleReport
from bot.digest.settings import Settings
from bot.oauth import Installations
from storage.models import Subscription
from tests.digest.conftest import day_entries
from tests.fakes.hf_api import FakeHF
from tests.fakes.slack_payloads import FORM, JSON, block_actions, find_button
from tests.listeners.support import Running, responses, start, texts
from tests.oauth.fake_oauth import OAuthFakeSlack, token_of
from tests.oauth.support import command_from, install, mention_from, oauth_services, send_json

FIRST, SECOND = "T0LAB1", "T0LAB2"


@pytest.fixture(name="two")
def two_fixture(db_url: str, tmp_path: Path, fake: OAuthFakeSlack) -> Iterator[Running]:
    """PaperBot installed in two workspaces (the same user id in both, as Slack allows)."""
    fake.add_user("U0ALICE", tz="UTC")
    running = start(oauth_services(db_url, tmp_path / "home", fake))
    try:
        for team in (FIRST, SECOND):
            assert install(running, fake, team).status_code == 200
        yield running
    finally:
        running.stop()


def command(running: Running, fake: OAuthFakeSlack, team: str, text: str, name: str,
            **kw: Any) -> dict[str, Any]:
    """`/papers <text>` from `team`; its (last) private answer."""
    body = command_from(team, text, response_url=fake.response_url(name), **kw)
    assert running.sender.send(body, FORM).status_code == 200
    return fake.wait_for(lambda: responses(fake, name))[-1]


def click(running: Running, fake: OAuthFakeSlack, team: str, blocks: list, prefix: str,
          name: str) -> None:
    raw, ctype = block_actions(blocks, prefix, response_url=fake.response_url(name))
    payload = json.loads(parse_qs(raw.decode())["payload"][0])
    payload["team"]["id"] = payload["user"]["team_id"] = team
    body = urlencode({"payload": json.dumps(payload)}).encode()
    assert running.sender.send(body, ctype).status_code == 200


def values(message: dict[str, Any]) -> set[str]:
    """The values of every button in a message (paper ids, for Save and Abstract)."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "button" and "value" in node:
                found.add(str(node["value"]))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(message.get("blocks", []))
    return found


def words(message: dict[str, Any]) -> str:
    return " ".join(texts(message))


def test_subscriptions_belong_to_their_workspace(two: Running, fake: OAuthFakeSlack) -> None:
    said = command(two, fake, FIRST, "subscribe diffusion at 07:30", "sub1")
    assert "Subscribed" in words(said)
    theirs = command(two, fake, SECOND, "subscriptions", "list2")
    mine = command(two, fake, FIRST, "subscriptions", "list1")
    assert "07:30" in words(mine) and "diffusion" in words(mine)
    assert "07:30" not in words(theirs) and "diffusion" not in words(theirs)
    # The same channel id subscribes separately in the other workspace...
    assert "Subscribed" in words(command(two, fake, SECOND, "subscribe at 08:00", "sub2"))
    # ...and unsubscribing there leaves the first workspace's subscription alone.
    command(two, fake, SECOND, "unsubscribe", "unsub2")
    with two.services.db.session() as s:
        subs = {(x.team_id, x.channel_id): x.active for x in s.query(Subscription).all()}
    assert subs == {(FIRST, "C0GENERAL"): True, (SECOND, "C0GENERAL"): False}
    # Each answer went out on the response_url of its own request; Slack calls made for
    # the subscribe commands (users.info, conversations.info) used the caller's own token.
    for team in (FIRST, SECOND):
        assert fake.calls_with(team, "users.info") or fake.calls_with(team, "conversations.info")


def test_saves_and_recommendations_stay_in_their_workspace(
    two: Running, fake: OAuthFakeSlack
) -> None:
    before = {team: texts(command(two, fake, team, "recommend", f"reco-{team}"))
              for team in (FIRST, SECOND)}
    found = command(two, fake, FIRST, "diffusion", "search1")
    click(two, fake, FIRST, found["blocks"], "paper_save", "save1")
    saved: dict[str, Any] = {}
    for attempt in range(50):  # the click is answered on its lane; ask until it is stored
        saved = command(two, fake, FIRST, "saved", f"saved1-{attempt}")
        if "Your saved papers" in words(saved):
            break
        time.sleep(0.1)
    paper = find_button(found["blocks"], "paper_save")[1]["value"]
    assert paper in values(saved)

    # The same user id in the second workspace: nothing saved, and its recommendations are
    # exactly what they were; the first workspace's changed with the save.
    other = command(two, fake, SECOND, "saved", "saved2")
    assert "not saved any papers" in words(other) and paper not in values(other)
    assert texts(command(two, fake, SECOND, "recommend", "reco2")) == before[SECOND]
    assert texts(command(two, fake, FIRST, "recommend", "reco1")) != before[FIRST]
    # The public library is shared: the second workspace finds the same paper by search.
    assert paper in values(command(two, fake, SECOND, "diffusion", "search2"))


def _digest_cycle(running: Running) -> CycleReport:
    """One digest cycle as the worker runs it in OAuth mode, today due everywhere."""
    services = running.services
    with FakeHF() as hf:
        hf.set_day(datetime.now(UTC).date(), day_entries(3))
        settings = dataclasses.replace(Settings.from_config(services.config), api_url=hf.api_url)
        return run_cycle(services, team_posters(services.config, services.db),
                         settings=settings, post_now=True)


def _subscribe_three(running: Running, fake: OAuthFakeSlack) -> None:
    for team, channel, name in ((FIRST, "C1FIRST", "s1"), (SECOND, "C2SECOND", "s2"),
                                (FIRST, "C3FIRST", "s3")):
        fake.add_channel(channel, channel.lower())
        assert "Subscribed" in words(command(running, fake, team, "subscribe", name,
                                             channel_id=channel))


def test_the_digest_posts_with_each_workspaces_token(
    two: Running, fake: OAuthFakeSlack
) -> None:
    _subscribe_three(two, fake)
    report = _digest_cycle(two)
    assert report.ok and report.done == 3, report.summary()
    for team, channel in ((FIRST, "C1FIRST"), (SECOND, "C2SECOND"), (FIRST, "C3FIRST")):
        posts = [c for c in fake.calls_to("chat.postMessage") if c.params["channel"] == channel]
        assert len(posts) == 4  # the day message and three abstracts
        assert {token_of(c) for c in posts} == set(fake.tokens_of(team))


def test_a_workspace_without_installation_loses_its_digests_only(
    two: Running, fake: OAuthFakeSlack
) -> None:
    """Uninstalled while no replica was up to hear app_uninstalled: the worker finds no
    token, ends that workspace's subscriptions, and the other workspace is served."""
    _subscribe_three(two, fake)
    Installations(two.services.config, two.services.db).forget(None, FIRST)
    report = _digest_cycle(two)
    assert sorted(report.deactivated) == ["C1FIRST (app_uninstalled)", "C3FIRST (app_uninstalled)"]
    assert report.done == 1 and report.fatal is None
    assert {c.params["channel"] for c in fake.calls_to("chat.postMessage")} == {"C2SECOND"}
    with two.services.db.session() as s:
        reasons = {x.channel_id: x.inactive_reason for x in s.query(Subscription).all()}
    assert reasons == {"C1FIRST": "app_uninstalled", "C3FIRST": "app_uninstalled",
                       "C2SECOND": None}


def test_receipts_skip_replays_per_request_not_per_workspace(
    two: Running, fake: OAuthFakeSlack
) -> None:
    """Receipts are keyed by Slack's event_id / trigger_id, unique across all workspaces: a
    replay of the first workspace's event is skipped, the second workspace's events are
    answered, each with its own token."""
    first = mention_from(FIRST, "diffusion")
    for retry in (None, 1):
        two.sender.send(first, JSON, retry_num=retry)
    send_json(two, mention_from(SECOND, "diffusion"))
    fake.wait_for(lambda: fake.calls_with(FIRST, "chat.postMessage")
                  and fake.calls_with(SECOND, "chat.postMessage"))
    time.sleep(0.3)  # a wrongly answered replay would show by now
    assert len(fake.calls_with(FIRST, "chat.postMessage")) == 1
    assert len(fake.calls_with(SECOND, "chat.postMessage")) == 1
