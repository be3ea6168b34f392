"""App Home end to end: signed app_home_opened events and clicks inside the published view,
over HTTP against the fake Slack (views.publish, users.conversations).

What a user's Home tab shows (their saves, picks for them, the digests of the channels they
are in, their personal digest), what it never shows (another user's saves, the digest of a
channel they are not in), that Save / Not for us inside it re-publish it in the new state,
that More like this answers in a DM, and that the view keeps Block Kit's limits.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from bot.home_blocks import validate_view
from bot.listeners.failures import DATABASE_DOWN, throttled
from storage import digest as subs
from storage import feedback as fb
from storage.events import receipt_state
from tests.conftest import POSTGRES_SKIP_REASON
from tests.fakes.slack_api import TEAM_ID, FakeSlack
from tests.fakes.slack_payloads import app_home_opened, view_block_actions
from tests.fakes.tcp_proxy import TcpProxy
from tests.listeners.support import (
    Running,
    assert_valid_messages,
    make_services,
    sqlite_only,
    start,
    texts,
)
from tests.listeners.test_feedback import (
    OTHER_TEAM,
    click,
    command,
    first_button,
    paper_ids,
    wait_idle,
)

ALICE, BOB = "U0ALICE", "U0BOB"


# --- helpers ---------------------------------------------------------------------------


def open_home(running: Running, fake: FakeSlack, user: str = ALICE, *, tab: str = "home",
              team: str = TEAM_ID, event_id: str | None = None,
              retry: int | None = None) -> str:
    """Send a signed app_home_opened; its event_id."""
    body, ctype, payload = app_home_opened(user=user, tab=tab, team_id=team, event_id=event_id)
    assert running.sender.send(body, ctype, retry_num=retry).status_code == 200
    return str(payload["event_id"])


def published(fake: FakeSlack, user: str, n: int) -> dict[str, Any]:
    """Wait for the n-th view published to `user`'s Home tab and return it."""
    fake.wait_for(lambda: len(fake.home_views.get(user, [])) >= n)
    return fake.home_views[user][n - 1]


def wait_answered(running: Running, event_id: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if receipt_state(running.services.db, "event", event_id, team_id=TEAM_ID) == "answered":
            return
        time.sleep(0.02)
    raise AssertionError(f"event {event_id} not answered within {timeout}s")


def sections(view: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The view's blocks grouped under each header (the text of the header)."""
    out: dict[str, list[dict[str, Any]]] = {}
    current = ""
    for block in view["blocks"]:
        if block["type"] == "header":
            current = block["text"]["text"]
            out[current] = []
        else:
            out.setdefault(current, []).append(block)
    return out


def ids_in(blocks: list[dict[str, Any]]) -> list[int]:
    return paper_ids({"blocks": blocks})


def click_in_home(running: Running, view: dict[str, Any], action: str, value: int, *,
                  user: str = ALICE, option: str | None = None) -> None:
    body, ctype = view_block_actions(view, action, user=user, value=str(value), option=option)
    assert running.sender.send(body, ctype).status_code == 200


def save_from_search(running: Running, fake: FakeSlack, query: str, name: str, *,
                     user: str = ALICE, index: int = 0) -> int:
    """A signed /papers search, then a signed Save click on one result: the paper id."""
    answer = command(running, fake, query, name, user=user)
    pid = paper_ids(answer)[index]
    after = click(running, fake, answer["blocks"], "paper_save", name + "-save", value=pid,
                  user=user)
    assert after is not None and first_button(after, pid) == "Saved ✓"
    return pid


def subscribe(running: Running, channel: str, topic: str, *, for_user: str | None = None,
              categories: str | None = None, at: str = "09:00") -> None:
    with running.services.db.session() as s:
        subs.subscribe(s, team_id=TEAM_ID, channel_id=channel, topic=topic, post_time=at,
                       tz="UTC", created_by=ALICE, now=datetime.now(UTC), for_user=for_user,
                       categories=categories)


# --- the Home tab ------------------------------------------------------------------------


def test_opening_home_publishes_my_saves_picks_and_my_channels_digests(
    paperbot: Running, fake_slack: FakeSlack
) -> None:
    fake_slack.add_channel("C0ML", "ml")
    fake_slack.add_channel("C0BIO", "bio")
    fake_slack.member_of[ALICE] = ["C0GENERAL", "C0ML"]
    subscribe(paperbot, "C0ML", "diffusion models")
    subscribe(paperbot, "C0BIO", "protein folding")  # Alice is not in #bio
    subscribe(paperbot, "D" + ALICE, "", for_user=ALICE)
    mine = save_from_search(paperbot, fake_slack, "diffusion caching", "a1")
    bobs = save_from_search(paperbot, fake_slack, "speculative decoding", "b1", user=BOB)
    assert mine != bobs

    open_home(paperbot, fake_slack)
    view = published(fake_slack, ALICE, 1)

    assert validate_view(view) == []
    parts = sections(view)
    assert {"Your saved papers", "Recommended for you", "Digests"} <= set(parts)
    assert ids_in(parts["Your saved papers"]) == [mine]
    assert first_button({"blocks": parts["Your saved papers"]}, mine) == "Saved ✓"
    # Bob's save is his alone: never listed as saved on Alice's page, never marked saved
    all_ids = ids_in(view["blocks"])
    assert bobs not in ids_in(parts["Your saved papers"])
    if bobs in all_ids:
        assert first_button(view, bobs) == "Save"
    picks = ids_in(parts["Recommended for you"])
    assert len(picks) == 5 and mine not in picks
    whys = [t for b in parts["Recommended for you"] if b["type"] == "section"
            for t in texts(b) if "\n_" in t]
    assert len(whys) == 5  # each pick says why (an italic line under its title)
    digests = " ".join(t for b in parts["Digests"] for t in texts(b))
    assert "<#C0ML>" in digests and "diffusion models" in digests
    assert "<#C0BIO>" not in digests and "protein folding" not in digests
    assert "in a DM to you" in digests
    calls = fake_slack.calls_to("users.conversations")
    assert calls and calls[-1].params["user"] == ALICE
    assert len(fake_slack.calls_to("views.publish")) == 1
    assert fake_slack.calls_to("views.publish")[0].params["user_id"] == ALICE

    # the team library (a save joins it) shows Bob's paper to Alice, not who saved it,
    # as /papers library does, in Alice's own state: not saved by her
    library = parts["Latest in the team library"]
    assert set(ids_in(library)) == {mine, bobs}
    assert first_button({"blocks": library}, bobs) == "Save"
    assert first_button({"blocks": library}, mine) == "Saved ✓"
    assert any("Saved by a teammate" in t for b in library for t in texts(b))
    assert not any(BOB in t for b in library for t in texts(b))  # saves stay private

    # Bob's own Home shows his save and none of Alice's, and no digest of channels he is
    # not in (the fake says he is in none)
    open_home(paperbot, fake_slack, BOB)
    his = sections(published(fake_slack, BOB, 1))
    assert ids_in(his["Your saved papers"]) == [bobs]
    assert "<#C0ML>" not in " ".join(t for b in his["Digests"] for t in texts(b))


def test_home_names_the_arxiv_categories_of_category_digests(
    paperbot: Running, fake_slack: FakeSlack
) -> None:
    """A category subscription (`/papers subscribe [me] arxiv cs.CL cs.LG [topic]`) shows
    its categories, with its topic and time; a trending one still says so."""
    for c in ("C0NLP", "C0ML", "C0HOT"):
        fake_slack.add_channel(c, c.lower())
    fake_slack.member_of[ALICE] = ["C0NLP", "C0ML", "C0HOT"]
    subscribe(paperbot, "C0NLP", "speculative decoding", categories="cs.CL cs.LG", at="07:30")
    subscribe(paperbot, "C0ML", "", categories="stat.ML")
    subscribe(paperbot, "C0HOT", "")
    subscribe(paperbot, "D" + ALICE, "", for_user=ALICE, categories="cs.CV", at="08:00")

    open_home(paperbot, fake_slack)
    view = published(fake_slack, ALICE, 1)
    assert validate_view(view) == []
    lines = [line for b in sections(view)["Digests"] for t in texts(b) for line in t.split("\n")]
    assert lines == [
        "• in <#C0HOT> (trending papers) at 09:00 UTC",
        "• in <#C0ML> from arXiv stat.ML at 09:00 UTC",
        "• in <#C0NLP> from arXiv cs.CL, cs.LG about “speculative decoding” at 07:30 UTC",
        "• in a DM to you from arXiv cs.CV at 08:00 UTC",
    ]


@sqlite_only
def test_save_and_not_for_us_inside_home_republish_it_in_the_new_state(
    paperbot: Running, fake_slack: FakeSlack
) -> None:
    save_from_search(paperbot, fake_slack, "diffusion caching", "a1")
    open_home(paperbot, fake_slack)
    view = published(fake_slack, ALICE, 1)
    picks = ids_in(sections(view)["Recommended for you"])
    target, unwanted = picks[0], picks[1]
    assert first_button(view, target) == "Save"

    click_in_home(paperbot, view, "paper_save", target)
    again = published(fake_slack, ALICE, 2)
    assert validate_view(again) == []
    assert target in ids_in(sections(again)["Your saved papers"])
    assert first_button(again, target) == "Saved ✓"
    with paperbot.services.db.session() as s:
        assert target in fb.saved_ids(s, TEAM_ID, ALICE)

    click_in_home(paperbot, again, "paper_hide", unwanted, option="hide")
    third = published(fake_slack, ALICE, 3)
    assert unwanted not in ids_in(sections(third)["Recommended for you"])
    with paperbot.services.db.session() as s:
        assert unwanted in fb.hidden_ids(s, TEAM_ID, ALICE)
    # a click in the Home tab never answers anywhere else (no response_url, no channel)
    assert not fake_slack.calls_to("chat.postMessage")
    assert not fake_slack.calls_to("chat.postEphemeral")


@sqlite_only
def test_more_like_this_inside_home_is_sent_privately_in_a_dm(
    paperbot: Running, fake_slack: FakeSlack
) -> None:
    fake_slack.add_user(ALICE)
    mine = save_from_search(paperbot, fake_slack, "diffusion caching", "a1")
    open_home(paperbot, fake_slack)
    view = published(fake_slack, ALICE, 1)

    click_in_home(paperbot, view, "paper_similar", mine)
    dm = fake_slack.wait_for(lambda: fake_slack.posted("D" + ALICE))
    assert len(dm) == 1
    assert "More like" in dm[0]["blocks"][0]["elements"][0]["text"]
    assert len(paper_ids(dm[0])) == 5 and mine not in paper_ids(dm[0])
    assert fake_slack.calls_to("conversations.open")[0].params["users"] == ALICE
    assert_valid_messages(fake_slack)


@sqlite_only
def test_the_messages_tab_publishes_nothing(paperbot: Running, fake_slack: FakeSlack) -> None:
    event_id = open_home(paperbot, fake_slack, tab="messages")
    wait_answered(paperbot, event_id)
    assert not fake_slack.calls_to("views.publish")
    assert not fake_slack.calls_to("users.conversations")


@sqlite_only
def test_home_with_many_saves_and_digests_stays_within_block_kit_limits(
    paperbot: Running, fake_slack: FakeSlack
) -> None:
    channels = [f"C0CH{i:03d}" for i in range(40)]
    cats = " ".join(f"cond-mat.subject-{i:02d}" for i in range(10))  # the most one takes
    for n, c in enumerate(channels):
        fake_slack.add_channel(c, c.lower())
        subscribe(paperbot, c, "a topic with <!channel> *stars* & " + "long words " * 30,
                  categories=cats if n % 2 else None)
    fake_slack.member_of[ALICE] = channels
    for i in range(3):
        save_from_search(paperbot, fake_slack, "diffusion caching", f"a{i}", index=i)
    for i in range(4):
        save_from_search(paperbot, fake_slack, "speculative decoding", f"b{i}", index=i)

    open_home(paperbot, fake_slack)
    view = published(fake_slack, ALICE, 1)
    assert validate_view(view) == []
    assert len(view["blocks"]) <= 100
    assert len(ids_in(sections(view)["Your saved papers"])) == 5  # top 5 of 7
    digests = " ".join(t for b in sections(view)["Digests"] for t in texts(b))
    assert "<!channel>" not in digests  # outside text is defused
    assert "and 20 more" in digests


@sqlite_only
def test_home_is_per_workspace_and_published_once_per_event(
    paperbot: Running, fake_slack: FakeSlack
) -> None:
    """The same user id in another workspace sees nothing of this one; a copy of an event
    already answered (Slack's retry) publishes nothing more."""
    mine = save_from_search(paperbot, fake_slack, "diffusion caching", "a1")
    event_id = open_home(paperbot, fake_slack)
    assert ids_in(sections(published(fake_slack, ALICE, 1))["Your saved papers"]) == [mine]
    wait_answered(paperbot, event_id)
    open_home(paperbot, fake_slack, event_id=event_id, retry=1)
    open_home(paperbot, fake_slack, team=OTHER_TEAM)
    other = published(fake_slack, ALICE, 2)
    assert ids_in(sections(other)["Your saved papers"]) == []
    assert ids_in(sections(other)["Latest in the team library"]) == []
    assert mine not in ids_in(other["blocks"]) or first_button(other, mine) == "Save"
    wait_idle(paperbot)
    assert len(fake_slack.home_views[ALICE]) == 2


@sqlite_only
def test_a_failed_publish_is_published_by_slacks_retry(
    paperbot: Running, fake_slack: FakeSlack
) -> None:
    fake_slack.fail("views.publish", "internal_error")
    event_id = open_home(paperbot, fake_slack)
    fake_slack.wait_for(lambda: fake_slack.calls_to("views.publish"))
    assert not fake_slack.home_views.get(ALICE)
    for retry in (1, 2, 3):  # Slack retries up to 3 times; one may race the first attempt
        open_home(paperbot, fake_slack, event_id=event_id, retry=retry)
        try:
            fake_slack.wait_for(lambda: fake_slack.home_views.get(ALICE), timeout=1.5)
            break
        except AssertionError:
            continue
    assert "Your saved papers" in " ".join(texts(published(fake_slack, ALICE, 1)))
    wait_idle(paperbot)
    assert len(fake_slack.home_views[ALICE]) == 1


@sqlite_only
def test_when_slack_will_not_list_my_channels_home_still_shows_the_rest(
    paperbot: Running, fake_slack: FakeSlack
) -> None:
    fake_slack.add_channel("C0ML", "ml")
    fake_slack.member_of[ALICE] = ["C0ML"]
    subscribe(paperbot, "C0ML", "diffusion models")
    mine = save_from_search(paperbot, fake_slack, "diffusion caching", "a1")
    fake_slack.fail("users.conversations", "missing_scope")
    open_home(paperbot, fake_slack)
    view = published(fake_slack, ALICE, 1)
    assert validate_view(view) == []
    assert ids_in(sections(view)["Your saved papers"]) == [mine]
    shown = " ".join(texts(view))
    assert "could not list your channels" in shown and "<#C0ML>" not in shown


@pytest.mark.skipif(bool(POSTGRES_SKIP_REASON), reason=POSTGRES_SKIP_REASON or "")
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_database_outage_while_opening_home_publishes_a_short_notice(
    db_url: str, tmp_path: Path, fake_slack: FakeSlack
) -> None:
    throttled._seen.clear()
    url = make_url(db_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    through = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    running = start(make_services(through, tmp_path / "home", fake_slack))
    try:
        open_home(running, fake_slack)
        before = published(fake_slack, ALICE, 1)
        assert "Your saved papers" in " ".join(texts(before))
        proxy.close()
        open_home(running, fake_slack)
        view = published(fake_slack, ALICE, 2)
        click_in_home(running, before, "paper_save", ids_in(before["blocks"])[0])
        after_click = published(fake_slack, ALICE, 3)
    finally:
        running.stop()
        proxy.close()
    for shown in (view, after_click):  # the tab says so instead of going stale or blank
        assert validate_view(shown) == []
        assert DATABASE_DOWN in " ".join(texts(shown))
        assert "Your saved papers" not in " ".join(texts(shown))
