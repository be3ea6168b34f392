"""Clicks and reactions are stored before Slack gets its 200, whatever the answer lanes do.

Issue 17: under a burst, Save clicks were acknowledged and then dropped with the re-render
when the `answers` lane was full. The choice is now written on the request thread; only the
re-render (or the private notice) waits for a lane, and a full lane costs the user just that.
Each test here plugs the answers lane (one worker, no queue, held busy) so that every
re-render is refused: what the database holds afterwards is what the listeners stored.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.blocks import HIDE_ACTION, SAVE_ACTION
from bot.listeners.workers import Lane
from storage import feedback as fb
from storage.models import Paper
from tests.fakes.slack_api import TEAM_ID, FakeSlack
from tests.fakes.slack_payloads import block_actions, reaction
from tests.listeners.support import Running, make_services, responses, sqlite_only, start


def _paper_ids(running: Running, n: int) -> list[int]:
    with running.services.db.session() as s:
        ids = list(s.execute(select(Paper.id).order_by(Paper.id).limit(n)).scalars())
    assert len(ids) == n
    return ids


def _buttons(pid: int) -> list[dict]:
    """A paper's Save button and Not for us menu, as an ephemeral answer carries them."""
    return [{
        "type": "actions", "block_id": f"paper_acts_{pid}",
        "elements": [
            {"type": "button", "action_id": SAVE_ACTION, "value": str(pid),
             "text": {"type": "plain_text", "text": "Save"}},
            {"type": "overflow", "action_id": HIDE_ACTION, "options": [
                {"text": {"type": "plain_text", "text": "Not for us"}, "value": f"hide:{pid}"},
            ]},
        ],
    }]


@pytest.fixture(name="plugged")
def plugged_fixture(paperbot: Running) -> Iterator[Running]:
    """The answers lane: one worker, no queue, held busy until the test ends."""
    workers = paperbot.app.paperbot_background  # type: ignore[attr-defined]
    old, lane = workers.answers, Lane("answers", 1, queue_limit=0)
    old.shutdown(wait=True)
    workers.answers = lane
    release = threading.Event()
    assert lane.submit(release.wait, 30) is not None
    try:
        yield paperbot
    finally:
        release.set()


def _click(running: Running, fake: FakeSlack, pid: int, action: str, name: str,
           option: str | None = None) -> int:
    body, ctype = block_actions(_buttons(pid), action, value=str(pid), option=option,
                                response_url=fake.response_url(name))
    return running.sender.send(body, ctype).status_code


def test_every_acknowledged_save_click_is_stored_even_when_the_answers_lane_is_full(
    plugged: Running, fake_slack: FakeSlack
) -> None:
    """300 Save clicks by one user from 8 clients: each acked click is in the database as
    soon as its 200 is back (no waiting), though no re-render could be queued."""
    ids = _paper_ids(plugged, 300)
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(
            lambda pid: _click(plugged, fake_slack, pid, SAVE_ACTION, f"s{pid}"), ids))
    assert codes == [200] * len(ids)
    with plugged.services.db.session() as s:
        assert sorted(fb.saved_ids(s, TEAM_ID, "U0ALICE")) == ids
    # A second round toggles each back: the final state is known (nothing saved).
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(
            lambda pid: _click(plugged, fake_slack, pid, SAVE_ACTION, f"u{pid}"), ids))
    assert codes == [200] * len(ids)
    with plugged.services.db.session() as s:
        assert fb.saved_ids(s, TEAM_ID, "U0ALICE") == []
    assert not [p for n in ("s", "u") for pid in ids for p in responses(fake_slack, f"{n}{pid}")
                if "Saved" in str(p)]  # the lane was full: no re-render went out


def test_not_for_us_clicks_and_reactions_are_stored_when_the_answers_lane_is_full(
    plugged: Running, fake_slack: FakeSlack
) -> None:
    ids = _paper_ids(plugged, 40)
    with plugged.services.db.session() as s:
        fb.remember_message(s, TEAM_ID, "C0GENERAL", "1.000042", ids[0], "digest")
    for pid in ids[1:]:
        assert _click(plugged, fake_slack, pid, HIDE_ACTION, f"h{pid}", option="hide:") == 200
    for i in range(20):
        body, ctype, _ = reaction("fire", channel="C0GENERAL", ts="1.000042", user=f"U{i:04d}")
        assert plugged.sender.send(body, ctype).status_code == 200
    with plugged.services.db.session() as s:
        assert fb.hidden_ids(s, TEAM_ID, "U0ALICE") == set(ids[1:])
    # Events are acknowledged before their listener runs while Bolt processes after the
    # response; so the reactions are waited for (a few seconds at most), not assumed.
    deadline = time.monotonic() + 10
    while _reactions(plugged) < 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _reactions(plugged) == 20


def _reactions(running: Running) -> int:
    with running.services.db.session() as s:
        return fb.count(s, TEAM_ID, signal="reaction")


def test_two_concurrent_save_clicks_by_each_of_40_users_cancel_out(
    paperbot: Running, fake_slack: FakeSlack
) -> None:
    """Two clicks on one Save button at once (a double click from two clients) are two
    toggles: saved then un-saved, never saved twice."""
    pid = _paper_ids(paperbot, 1)[0]
    start = threading.Barrier(2)

    def one(job: tuple[str, int]) -> int:
        user, n = job
        body, ctype = block_actions(_buttons(pid), SAVE_ACTION, value=str(pid), user=user,
                                    response_url=fake_slack.response_url(f"{user}-{n}"))
        start.wait(10)
        return paperbot.sender.send(body, ctype).status_code

    for u in range(40):
        with ThreadPoolExecutor(2) as pool:
            codes = list(pool.map(one, [(f"U{u:04d}", 1), (f"U{u:04d}", 2)]))
        assert codes == [200, 200]
    paperbot.app.paperbot_background.shutdown(wait=True)  # type: ignore[attr-defined]
    with paperbot.services.db.session() as s:
        left = [u for u in range(40) if fb.saved_ids(s, TEAM_ID, f"U{u:04d}")]
    assert left == []


@sqlite_only
def test_configured_reactions_with_a_skin_tone_match_every_skin_tone(
    tmp_path: Path, db_url: str, fake_slack: FakeSlack
) -> None:
    """Slack sends `+1::skin-tone-2`; a configured `+1::skin-tone-2` (or `:+1:`) means the
    emoji in every skin tone, the plain one included."""
    running = start(make_services(
        db_url, tmp_path / "home", fake_slack,
        PAPERBOT_POSITIVE_REACTIONS="+1::skin-tone-2,fire",
        PAPERBOT_NEGATIVE_REACTIONS=":-1::skin-tone-6:",
    ))
    try:
        ids = _paper_ids(running, 1)
        with running.services.db.session() as s:
            fb.remember_message(s, TEAM_ID, "C0GENERAL", "1.000077", ids[0], "digest")
        sent = [("+1", "U1"), ("+1::skin-tone-2", "U2"), ("+1::skin-tone-5", "U3"),
                ("-1", "U4"), ("-1::skin-tone-3", "U5"), ("tada", "U6")]
        for name, user in sent:
            body, ctype, _ = reaction(name, channel="C0GENERAL", ts="1.000077", user=user)
            assert running.sender.send(body, ctype).status_code == 200
        deadline = time.monotonic() + 10
        while _reactions(running) < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        with running.services.db.session() as s:
            got = {u: fb.signals(s, TEAM_ID, user_id=u) for _, u in sent}
    finally:
        running.stop()
    assert got == {"U1": [(ids[0], 1.0)], "U2": [(ids[0], 1.0)], "U3": [(ids[0], 1.0)],
                   "U4": [(ids[0], -1.0)], "U5": [(ids[0], -1.0)], "U6": []}


@sqlite_only
def test_save_after_not_for_us_saves_it_and_takes_the_not_for_us_back(
    paperbot: Running, fake_slack: FakeSlack
) -> None:
    """The user's latest word wins: a paper is saved or hidden, never both (the two would
    cancel out in the recommender)."""
    a, b = _paper_ids(paperbot, 2)
    assert _click(paperbot, fake_slack, a, HIDE_ACTION, "h", option="hide:") == 200
    assert _click(paperbot, fake_slack, a, SAVE_ACTION, "s") == 200
    notice = fake_slack.wait_for(lambda: responses(fake_slack, "s"))[-1]
    assert "Saved ✓" in str(notice) and "Not for us ✓" not in str(notice)
    assert _click(paperbot, fake_slack, b, SAVE_ACTION, "s2") == 200
    assert _click(paperbot, fake_slack, b, HIDE_ACTION, "h2", option="hide:") == 200
    with paperbot.services.db.session() as s:
        assert fb.saved_ids(s, TEAM_ID, "U0ALICE") == [a]
        assert fb.hidden_ids(s, TEAM_ID, "U0ALICE") == {b}
        assert fb.signals(s, TEAM_ID, user_id="U0ALICE") == [(a, 1.0), (b, -1.0)]
