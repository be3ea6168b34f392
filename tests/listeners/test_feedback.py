"""Feedback end to end: signed clicks and reaction events over HTTP against the fake Slack.

Save / Not for us / More like this on private and channel answers and on digest replies,
reactions on one-paper messages (added, retried, removed), /papers saved and recommend, and
privacy: one user's choices never reach another user, another channel, or another workspace.
Every message sent is checked against Block Kit's limits by the `paperbot` fixture.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from bot.digest import subscriptions
from bot.digest.cycle import run_cycle
from bot.digest.poster import poster_for
from bot.listeners.failures import DATABASE_DOWN, throttled
from storage import feedback as fb
from tests.conftest import POSTGRES_SKIP_REASON
from tests.fakes.hf_api import FakeHF, hf_entry
from tests.fakes.slack_api import TEAM_ID, FakeSlack
from tests.fakes.slack_payloads import app_mention, block_actions, reaction, slash_command
from tests.fakes.tcp_proxy import TcpProxy
from tests.listeners.support import (
    Running,
    assert_valid_messages,
    make_services,
    responses,
    sqlite_only,
    start,
    texts,
)

OTHER_TEAM = "T0OTHER"


# --- helpers ---------------------------------------------------------------------------


def command(running: Running, fake: FakeSlack, text: str, name: str, *,
            user: str = "U0ALICE", team: str = TEAM_ID, channel: str = "C0GENERAL") -> dict:
    body, ctype = slash_command(text, response_url=fake.response_url(name), user_id=user,
                                team_id=team, channel_id=channel)
    assert running.sender.send(body, ctype).status_code == 200
    return fake.wait_for(lambda: responses(fake, name))[-1]


def click(running: Running, fake: FakeSlack, blocks: list, action: str, name: str, *,
          value: int | None = None, option: str | None = None, message: dict | None = None,
          user: str = "U0ALICE", team: str = TEAM_ID) -> dict | None:
    """Click and return the clicker's response_url answer (None if none within 5 s)."""
    body, ctype = block_actions(
        blocks, action, response_url=fake.response_url(name), message=message, user=user,
        value=None if value is None else str(value), option=option, team_id=team,
    )
    assert running.sender.send(body, ctype).status_code == 200
    try:
        return fake.wait_for(lambda: responses(fake, name))[-1]
    except AssertionError:
        return None


def mention(running: Running, fake: FakeSlack, query: str) -> dict:
    body, ctype, payload = app_mention(f"<@UBOT> {query}")
    running.sender.send(body, ctype)
    ts = payload["event"]["ts"]
    return fake.wait_for(
        lambda: next((m for m in fake.posted("C0GENERAL") if m.get("thread_ts") == ts), None)
    )


def paper_ids(msg: dict) -> list[int]:
    """The papers a message shows, in order (from their More like this buttons)."""
    return [int(el["value"]) for b in msg.get("blocks", []) if b.get("type") == "actions"
            for el in b["elements"] if el.get("action_id") == "paper_similar"]


def heading(msg: dict) -> str:
    """The context line a list or a results page starts with."""
    first = (msg.get("blocks") or [{}])[0]
    return first["elements"][0]["text"] if first.get("type") == "context" else ""


def first_button(msg: dict, pid: int) -> str:
    """The label of a paper's first button: Save, Saved ✓, or the Not for us undo."""
    for b in msg.get("blocks", []):
        if b.get("type") == "actions" and any(
            el.get("action_id") == "paper_similar" and el.get("value") == str(pid)
            for el in b["elements"]
        ):
            return b["elements"][0]["text"]["text"]
    raise AssertionError(f"paper {pid} not in the message")


def react(running: Running, name: str, channel: str, ts: str, *, user: str = "U0ALICE",
          added: bool = True, event_id: str | None = None, retry: int | None = None,
          team: str = TEAM_ID) -> dict:
    body, ctype, payload = reaction(name, channel=channel, ts=ts, user=user, added=added,
                                    event_id=event_id, team_id=team)
    assert running.sender.send(body, ctype, retry_num=retry).status_code == 200
    return payload


def rows(running: Running, team: str = TEAM_ID, **where: Any) -> int:
    with running.services.db.session() as s:
        return fb.count(s, team, **where)


def wait_rows(running: Running, n: int, **where: Any) -> None:
    deadline = datetime.now(UTC).timestamp() + 5
    while datetime.now(UTC).timestamp() < deadline:
        if rows(running, **where) == n:
            return
        import time
        time.sleep(0.02)
    raise AssertionError(f"expected {n} feedback rows {where}, have {rows(running, **where)}")


def wait_idle(running: Running) -> None:
    """Every accepted answer finished (the lanes stop taking work: use last in a test)."""
    running.app.paperbot_background.shutdown(wait=True)  # type: ignore[attr-defined]


# --- Save ------------------------------------------------------------------------------


def test_save_on_a_private_answer_shows_saved_and_a_second_click_takes_it_back(
    paperbot: Running, fake_slack: FakeSlack
) -> None:
    answer = command(paperbot, fake_slack, "diffusion caching", "q")
    ids = paper_ids(answer)
    assert len(ids) == 5 and all(first_button(answer, i) == "Save" for i in ids)
    pid = ids[1]

    page = click(paperbot, fake_slack, answer["blocks"], "paper_save", "s1", value=pid)
    assert page is not None and page["replace_original"] is True  # the clicker's own view
    assert paper_ids(page) == ids  # the same page, re-rendered
    assert first_button(page, pid) == "Saved ✓"
    assert [first_button(page, i) for i in ids if i != pid] == ["Save"] * 4
    assert rows(paperbot, signal="save", user_id="U0ALICE", paper_id=pid) == 1

    saved = command(paperbot, fake_slack, "saved", "list1")
    assert saved["response_type"] == "ephemeral"
    assert paper_ids(saved) == [pid] and first_button(saved, pid) == "Saved ✓"

    again = click(paperbot, fake_slack, page["blocks"], "paper_save", "s2", value=pid)
    assert again is not None and first_button(again, pid) == "Save"
    assert rows(paperbot, signal="save") == 0
    empty = command(paperbot, fake_slack, "saved", "list2")
    assert paper_ids(empty) == []
    assert "not saved any papers" in " ".join(texts(empty))


@sqlite_only
def test_save_on_a_channel_answer_is_confirmed_only_to_the_clicker(
    paperbot: Running, fake_slack: FakeSlack
) -> None:
    answer = mention(paperbot, fake_slack, "diffusion caching")
    before = [dict(m) for m in fake_slack.posted("C0GENERAL")]
    pid = paper_ids(answer)[0]
    notice = click(paperbot, fake_slack, answer["blocks"], "paper_save", "c1", value=pid,
                   message=answer)
    assert notice is not None
    assert notice["response_type"] == "ephemeral" and notice["replace_original"] is False
    assert "Saved ✓" in " ".join(texts(notice)) and first_button(notice, pid) == "Saved ✓"
    # The channel message is everyone's: untouched, no chat.update, nothing new posted.
    assert not fake_slack.calls_to("chat.update")
    assert fake_slack.posted("C0GENERAL") == before
    # Undo from the private notice replaces the notice itself.
    undo = click(paperbot, fake_slack, notice["blocks"], "paper_save", "c2", value=pid)
    assert undo is not None and undo["replace_original"] is True
    assert first_button(undo, pid) == "Save"
    assert rows(paperbot, signal="save") == 0


@sqlite_only
def test_forged_feedback_values_are_answered_as_a_missing_paper(
    paperbot: Running, fake_slack: FakeSlack
) -> None:
    answer = command(paperbot, fake_slack, "diffusion caching", "q")
    blocks = [dict(b) for b in answer["blocks"]]
    for b in blocks:
        if b.get("type") == "actions" and b["block_id"].startswith("paper_acts_"):
            b["elements"] = [dict(b["elements"][0], value="99999999999999999999")]
            break
    reply = click(paperbot, fake_slack, blocks, "paper_save", "forged")
    assert reply is not None and "no longer in the library" in " ".join(texts(reply))
    assert rows(paperbot) == 0


# --- Not for us and recommendations ------------------------------------------------------


@sqlite_only
def test_not_for_us_hides_a_paper_from_recommendations_and_undo_brings_it_back(
    paperbot: Running, fake_slack: FakeSlack
) -> None:
    answer = command(paperbot, fake_slack, "diffusion caching", "q")
    ids = paper_ids(answer)
    page = answer
    for n, pid in enumerate(ids[:2]):  # two saves: the recommender has something to learn
        page = click(paperbot, fake_slack, page["blocks"], "paper_save", f"s{n}", value=pid)
        assert page is not None

    rec = command(paperbot, fake_slack, "recommend", "rec1")
    recommended = paper_ids(rec)
    assert rec["response_type"] == "ephemeral" and "only you see this" in " ".join(texts(rec))
    assert len(recommended) == 5 and not set(recommended) & set(ids[:2])  # not the saved ones

    target = recommended[0]
    rec2 = click(paperbot, fake_slack, rec["blocks"], "paper_hide", "h1", value=target,
                 option="hide:")
    assert rec2 is not None and rec2["replace_original"] is True
    assert target not in paper_ids(rec2)  # re-rendered without it
    with paperbot.services.db.session() as s:
        assert fb.hidden_ids(s, TEAM_ID, "U0ALICE") == {target}
    assert target not in paper_ids(command(paperbot, fake_slack, "recommend", "rec3"))

    # On a channel answer, Not for us is confirmed privately, with an Undo button.
    channel_answer = mention(paperbot, fake_slack, "video generation")
    other = paper_ids(channel_answer)[0]
    notice = click(paperbot, fake_slack, channel_answer["blocks"], "paper_hide", "h2",
                   value=other, option="hide:", message=channel_answer)
    assert notice is not None and notice["replace_original"] is False
    assert first_button(notice, other) == "Not for us ✓ · Undo"
    with paperbot.services.db.session() as s:
        assert fb.hidden_ids(s, TEAM_ID, "U0ALICE") == {target, other}
    undo = click(paperbot, fake_slack, notice["blocks"], "paper_hide", "u1", value=other)
    assert undo is not None and undo["replace_original"] is True
    assert first_button(undo, other) == "Save"
    with paperbot.services.db.session() as s:
        assert fb.hidden_ids(s, TEAM_ID, "U0ALICE") == {target}


@sqlite_only
def test_recommend_words_narrow_it_and_list_paging_moves_on(
    paperbot: Running, fake_slack: FakeSlack
) -> None:
    first = command(paperbot, fake_slack, "recommend video generation", "r1")
    ids = paper_ids(first)
    assert len(ids) == 5 and "about “video generation”" in " ".join(texts(first))
    nxt = click(paperbot, fake_slack, first["blocks"], "papers_list_more", "r2")
    assert nxt is not None and nxt["replace_original"] is True
    assert paper_ids(nxt) and not set(paper_ids(nxt)) & set(ids)


def test_recommend_without_signals_starts_from_the_channels_digest_topic(
    paperbot: Running, fake_slack: FakeSlack
) -> None:
    """Cold start: a user who has saved nothing gets the channel's subscription topic,
    and the same command in a channel with no digest gets trending papers instead."""
    with paperbot.services.db.session() as s:
        from storage import digest as subs

        subs.subscribe(s, team_id=TEAM_ID, channel_id="C0SPEC", topic="speculative decoding",
                       post_time="09:00", tz="UTC", created_by="U0ALICE",
                       now=datetime.now(UTC))
    on_topic = command(paperbot, fake_slack, "recommend", "cs1", channel="C0SPEC")
    shown = " ".join(texts(on_topic))
    assert len(paper_ids(on_topic)) == 5
    assert "this channel's topic" in shown
    elsewhere = command(paperbot, fake_slack, "recommend", "cs2", channel="C0GENERAL")
    assert "this channel's topic" not in " ".join(texts(elsewhere))
    best = paperbot.services.search.search("speculative decoding", limit=5)
    assert set(paper_ids(on_topic)) == {h.paper_id for h in best.hits}  # the topic's top 5
    assert set(paper_ids(elsewhere)) != set(paper_ids(on_topic))


# --- More like this ----------------------------------------------------------------------


@sqlite_only
def test_more_like_this_stays_private_from_a_private_answer_and_goes_in_the_thread_otherwise(
    paperbot: Running, fake_slack: FakeSlack
) -> None:
    answer = command(paperbot, fake_slack, "diffusion caching", "q")
    pid = paper_ids(answer)[0]
    similar = click(paperbot, fake_slack, answer["blocks"], "paper_similar", "m1", value=pid)
    assert similar is not None
    assert similar["response_type"] == "ephemeral" and similar["replace_original"] is False
    assert heading(similar).startswith("More like")
    assert paper_ids(similar) and pid not in paper_ids(similar)
    assert not fake_slack.calls_to("chat.postMessage")

    channel_answer = mention(paperbot, fake_slack, "diffusion caching")
    cid = paper_ids(channel_answer)[0]
    click(paperbot, fake_slack, channel_answer["blocks"], "paper_similar", "m2", value=cid,
          message=channel_answer)
    thread = channel_answer["thread_ts"]
    posted = fake_slack.wait_for(lambda: [
        m for m in fake_slack.posted("C0GENERAL")
        if m.get("thread_ts") == thread and heading(m).startswith("More like")
    ])
    assert cid not in paper_ids(posted[0]) and paper_ids(posted[0])
    # Nobody's saves show on a channel list.
    assert all(first_button(posted[0], i) == "Save" for i in paper_ids(posted[0]))


# --- reactions ---------------------------------------------------------------------------


def test_reactions_on_an_abstract_reply_count_once_and_removal_takes_them_back(
    paperbot: Running, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    answer = mention(paperbot, fake_slack, "diffusion caching")
    pid = int(answer["blocks"][1]["accessory"]["value"])
    click(paperbot, fake_slack, answer["blocks"], "paper_abstract", "abs", message=answer)
    thread = answer["thread_ts"]
    abstract = fake_slack.wait_for(lambda: next((
        m for m in fake_slack.posted("C0GENERAL")
        if m.get("thread_ts") == thread and m["blocks"][0]["type"] == "header"), None))
    ts = abstract["ts"]
    fake_slack.wait_for(lambda: _mapped(paperbot, ts) == pid)

    first = react(paperbot, "fire", "C0GENERAL", ts)
    wait_rows(paperbot, 1, signal="reaction")
    # Slack's retry of the same event (same event_id) is skipped by the receipts.
    react(paperbot, "fire", "C0GENERAL", ts, event_id=first["event_id"], retry=1)
    react(paperbot, "-1::skin-tone-3", "C0GENERAL", ts, user="U0BOB")
    react(paperbot, "tada", "C0GENERAL", ts, user="U0BOB")  # not a feedback emoji
    wait_rows(paperbot, 2, signal="reaction")
    with paperbot.services.db.session() as s:
        assert fb.signals(s, TEAM_ID, user_id="U0ALICE") == [(pid, 1.0)]
        assert fb.signals(s, TEAM_ID, user_id="U0BOB") == [(pid, -1.0)]
        assert fb.signals(s, TEAM_ID, channel_id="C0GENERAL") == []  # +1 - 1 cancel out
    assert any(first["event_id"] in r.getMessage() and "skipping" in r.getMessage()
               for r in caplog.records)

    react(paperbot, "fire", "C0GENERAL", ts, added=False)
    wait_rows(paperbot, 1, signal="reaction")
    with paperbot.services.db.session() as s:
        assert fb.signals(s, TEAM_ID, user_id="U0ALICE") == []
        assert fb.signals(s, TEAM_ID, channel_id="C0GENERAL") == [(pid, -1.0)]
    # A reaction on a message that is not about one paper (the five-paper answer) is ignored,
    # and so is the same message seen from another workspace.
    react(paperbot, "star", "C0GENERAL", answer["ts"])
    react(paperbot, "star", "C0GENERAL", ts, team=OTHER_TEAM)
    wait_idle(paperbot)
    assert rows(paperbot, signal="reaction") == 1
    assert rows(paperbot, OTHER_TEAM) == 0


def _mapped(running: Running, ts: str, channel: str = "C0GENERAL") -> int | None:
    with running.services.db.session() as s:
        return fb.paper_for_message(s, TEAM_ID, channel, ts)


@pytest.fixture(name="fake_hf")
def fake_hf_fixture() -> Iterator[FakeHF]:
    with FakeHF() as fake:
        yield fake


@pytest.fixture(name="digest_bot")
def digest_bot_fixture(db_url: str, tmp_path: Path, fake_slack: FakeSlack,
                       fake_hf: FakeHF) -> Iterator[Running]:
    running = start(make_services(db_url, tmp_path / "home", fake_slack,
                                  HF_API_URL=fake_hf.api_url))
    try:
        yield running
    finally:
        running.stop()
    assert_valid_messages(fake_slack)


def test_reactions_and_buttons_on_digest_replies(
    digest_bot: Running, fake_slack: FakeSlack, fake_hf: FakeHF
) -> None:
    services = digest_bot.services
    poster = poster_for(services.config, services.db)
    fake_slack.add_user("U0ALICE")
    subscriptions.handle(services, poster, team_id=TEAM_ID, channel_id="C0GENERAL",
                         user_id="U0ALICE", text="subscribe")
    today = datetime.now(UTC).date()
    fake_hf.set_day(today, [
        hf_entry(f"2511.{10000 + i}", f"Okapi feedback paper {i} on zebra ranking",
                 summary=f"We study zebra ranking number {i}. " * 3, upvotes=50 - i)
        for i in range(3)
    ])
    run_cycle(services, poster, always_fetch=True, post_now=True)
    msgs = fake_slack.posted("C0GENERAL")
    parent = next(m for m in msgs if "thread_ts" not in m)
    replies = [m for m in msgs if m.get("thread_ts") == parent["ts"]]
    assert len(replies) == 3
    for reply in replies:  # each reply: its paper's buttons, and mapped to that paper
        [pid] = paper_ids(reply)
        assert _mapped(digest_bot, reply["ts"]) == pid

    pid = paper_ids(replies[0])[0]
    react(digest_bot, "thumbsdown", "C0GENERAL", replies[0]["ts"])
    react(digest_bot, "heart", "C0GENERAL", replies[1]["ts"], user="U0BOB")
    wait_rows(digest_bot, 2, signal="reaction")
    with services.db.session() as s:
        assert fb.signals(s, TEAM_ID, channel_id="C0GENERAL") == sorted(
            [(pid, -1.0), (paper_ids(replies[1])[0], 1.0)])
        assert fb.signals(s, TEAM_ID, channel_id="C0OTHER") == []  # channels stay apart
    react(digest_bot, "thumbsdown", "C0GENERAL", replies[0]["ts"], added=False)
    wait_rows(digest_bot, 1, signal="reaction")

    notice = click(digest_bot, fake_slack, replies[2]["blocks"], "paper_save", "d1",
                   message=replies[2])
    assert notice is not None and notice["response_type"] == "ephemeral"
    assert first_button(notice, paper_ids(replies[2])[0]) == "Saved ✓"
    with services.db.session() as s:
        assert fb.saved_ids(s, TEAM_ID, "U0ALICE") == paper_ids(replies[2])
    # The day's message: a Save per row, confirmed privately with the paper's other buttons.
    row_ids = [int(b["accessory"]["value"]) for b in parent["blocks"] if b.get("accessory")]
    assert sorted(row_ids) == sorted(paper_ids(r)[0] for r in replies)
    notice = click(digest_bot, fake_slack, parent["blocks"], "paper_save", "d2",
                   value=row_ids[0], message=parent, user="U0BOB")
    assert notice is not None and notice["replace_original"] is False
    assert first_button(notice, row_ids[0]) == "Saved ✓"
    with services.db.session() as s:
        assert fb.saved_ids(s, TEAM_ID, "U0BOB") == [row_ids[0]]


# --- privacy -----------------------------------------------------------------------------


def test_one_users_saves_never_reach_another_user_or_workspace(
    paperbot: Running, fake_slack: FakeSlack
) -> None:
    answer = command(paperbot, fake_slack, "diffusion caching", "a")
    pid = paper_ids(answer)[0]
    assert click(paperbot, fake_slack, answer["blocks"], "paper_save", "as", value=pid)

    bob_saved = command(paperbot, fake_slack, "saved", "b1", user="U0BOB")
    assert paper_ids(bob_saved) == [] and "not saved any" in " ".join(texts(bob_saved))
    bob_search = command(paperbot, fake_slack, "diffusion caching", "b2", user="U0BOB")
    assert pid in paper_ids(bob_search) and first_button(bob_search, pid) == "Save"
    bob_rec = command(paperbot, fake_slack, "recommend", "b3", user="U0BOB")
    assert "Saved ✓" not in str(bob_rec)
    alice_rec = command(paperbot, fake_slack, "recommend", "a2")
    assert pid not in paper_ids(alice_rec)

    # The same user id in another workspace is someone else.
    other = command(paperbot, fake_slack, "saved", "o1", team=OTHER_TEAM)
    assert paper_ids(other) == []
    other_search = command(paperbot, fake_slack, "diffusion caching", "o2", team=OTHER_TEAM)
    assert first_button(other_search, pid) == "Save"
    with paperbot.services.db.session() as s:
        assert fb.signals(s, OTHER_TEAM, user_id="U0ALICE") == []
        assert fb.saved_ids(s, TEAM_ID, "U0ALICE") == [pid]


# --- outages -----------------------------------------------------------------------------


@pytest.mark.skipif(bool(POSTGRES_SKIP_REASON), reason=POSTGRES_SKIP_REASON or "")
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_new_commands_and_clicks_answer_a_database_outage(
    db_url: str, tmp_path: Path, fake_slack: FakeSlack
) -> None:
    throttled._seen.clear()
    url = make_url(db_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    through = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    running = start(make_services(through, tmp_path / "home", fake_slack))
    try:
        before = command(running, fake_slack, "diffusion caching", "before")
        pid = paper_ids(before)[0]
        proxy.close()
        answers = [command(running, fake_slack, text, "down-" + text.replace(" ", "-"))
                   for text in ("recommend", "saved", "recommend diffusion")]
        for action in ("paper_save", "paper_similar", "paper_hide"):
            answers.append(click(running, fake_slack, before["blocks"], action, action,
                                 value=pid))
    finally:
        running.stop()
        proxy.close()
    for answer in answers:
        assert answer is not None and DATABASE_DOWN in " ".join(texts(answer)), answer
        assert answer.get("response_type", "ephemeral") == "ephemeral"
    assert_valid_messages(fake_slack)


@sqlite_only
def test_reactions_on_a_single_paper_answer_count_for_that_paper(
    paperbot: Running, fake_slack: FakeSlack
) -> None:
    from storage.papers import PaperRecord, upsert_papers

    with paperbot.services.db.session() as s:
        upsert_papers(s, [PaperRecord(title="Quokkanet: one of a kind",
                                      abstract="Quokkanet ranks quokkas.", source="test")])
    paperbot.services.search.refresh()
    answer = mention(paperbot, fake_slack, "quokkanet")
    [pid] = paper_ids(answer)
    fake_slack.wait_for(lambda: _mapped(paperbot, answer["ts"]) == pid)
    react(paperbot, "star", "C0GENERAL", answer["ts"])
    wait_rows(paperbot, 1, signal="reaction", paper_id=pid)


def test_a_burst_of_reactions_and_saves_is_recorded_in_full(
    paperbot: Running, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    """Concurrent writers (8 answer workers) never fail on SQLite's lock upgrade."""
    from concurrent.futures import ThreadPoolExecutor

    answer = command(paperbot, fake_slack, "diffusion caching", "q")
    ids = paper_ids(answer)
    with paperbot.services.db.session() as s:
        fb.remember_message(s, TEAM_ID, "C0GENERAL", "1.000009", ids[0], "digest")

    def one(i: int) -> int:
        if i % 2:
            body, ctype, _ = reaction("fire", channel="C0GENERAL", ts="1.000009",
                                      user=f"U{i:04d}")
        else:
            body, ctype = block_actions(answer["blocks"], "paper_save", value=str(ids[i % 5]),
                                        user=f"U{i:04d}", response_url=fake_slack.response_url(
                                            f"b{i}"))
        return paperbot.sender.send(body, ctype).status_code

    with ThreadPoolExecutor(20) as pool:
        assert list(pool.map(one, range(60))) == [200] * 60
    wait_rows(paperbot, 30, signal="reaction")
    wait_rows(paperbot, 30, signal="save")
    wait_idle(paperbot)
    ours = [r.getMessage() for r in caplog.records
            if r.levelno >= logging.WARNING and r.name.startswith(("bot", "storage"))]
    assert not ours, ours
