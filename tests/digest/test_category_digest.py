"""Category subscriptions (`/papers subscribe arxiv cs.CL`) through the real
`paperbot digest --once --now` (bot.cli.main in-process) against the fake arXiv feeds and
the fake Slack, on SQLite and PostgreSQL: one post a day with the day's new papers ranked by
the channel's saves and an "N of M" line; nothing twice; weekends quiet; cross-lists once and
replacements not at all."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import time_machine

from bot.blocks import validate_message
from bot.cli import main
from bot.digest.poster import SlackPoster
from bot.services import Services
from storage import feedback
from tests.digest.conftest import (
    assert_exactly_once,
    day_entries,
    digest_of,
    env_for,
    ids_of,
    subscribe,
)
from tests.fakes.arxiv_feeds import FakeArxivFeeds, FeedItem
from tests.fakes.hf_api import FakeHF
from tests.fakes.slack_api import TEAM_ID, FakeSlack

THU, FRI, SAT = date(2026, 12, 3), date(2026, 12, 4), date(2026, 12, 5)


def at_ten(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 10, 0, tzinfo=UTC)


@pytest.fixture
def fake_arxiv() -> Iterator[FakeArxivFeeds]:
    with FakeArxivFeeds() as fake:
        yield fake


@pytest.fixture
def cli_env(
    monkeypatch: pytest.MonkeyPatch,
    db_url: str,
    tmp_path: Path,
    fake_slack: FakeSlack,
    fake_hf: FakeHF,
    fake_arxiv: FakeArxivFeeds,
    services: Services,  # the same database and home as `services`
) -> None:
    env = env_for(db_url, tmp_path / "home", fake_slack, fake_hf,
                  PAPERBOT_ARXIV_RSS_URL=fake_arxiv.rss_url, PAPERBOT_ARXIV_PACE="0.05")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("LOG_LEVEL", raising=False)


def digest_now(capsys: pytest.CaptureFixture[str], day: date) -> str:
    with time_machine.travel(at_ten(day)):
        code = main(["digest", "--once", "--now"])
    out, err = capsys.readouterr()
    assert code == 0, (out, err)
    return out


def shown(parent: dict) -> list[str]:
    """arXiv ids of the day message's papers, in the order shown."""
    return [
        m.group(1)
        for b in parent["blocks"]
        if b["type"] == "section"
        for m in [re.search(r"arxiv\.org/abs/([0-9.]+)\|", b["text"]["text"])]
        if m
    ]


def contexts(parent: dict) -> list[str]:
    return [e["text"] for b in parent["blocks"] if b["type"] == "context" for e in b["elements"]]


SPEECH = [
    "Streaming speech recognition with acoustic transducers",
    "Whisper style speech recognition for accented acoustic speech",
    "Acoustic speech recognition under noisy microphones",
]


def speech(start: int, n: int = 3) -> list[FeedItem]:
    return [
        FeedItem(f"2612.{start + i:05d}", SPEECH[i % 3] + f" part {start + i}",
                 abstract=f"We train acoustic models for speech recognition of spoken audio "
                          f"{start + i}; word error rate on speech benchmarks falls.")
        for i in range(n)
    ]


OFF = ["Graph neural networks for molecules", "Retrieval augmented question answering",
       "Instruction tuning of large language models", "Tokenizer free machine translation",
       "Legal document summarization benchmark", "Code generation with program synthesis",
       "Sentiment lexicons for social media"]


@pytest.mark.usefixtures("cli_env")
def test_category_channel_gets_the_days_papers_ranked_by_its_saves_once(
    services: Services,
    poster: SlackPoster,
    fake_slack: FakeSlack,
    fake_arxiv: FakeArxivFeeds,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake_slack.add_channel("C0NLP", "nlp")
    fake_slack.add_channel("C0ML", "ml")
    answer = subscribe(services, poster, "C0NLP", "subscribe arxiv cs.CL at 09:00")
    assert "new arXiv papers in cs.CL" in answer and "top 10" in answer, answer
    subscribe(services, poster, "C0ML", "subscribe arxiv cs.cl, cs.LG at 09:00")

    # Thursday: three speech papers; the channel gets them (no signals yet) and saves them.
    fake_arxiv.set_feed("cs.CL", speech(1), THU)
    out = digest_now(capsys, THU)
    assert "arXiv: 3 new, 0 updated papers in cs.CL, cs.LG (announced 2026-12-03)" in out, out
    [(first, _)] = digest_of(fake_slack, "C0NLP")
    assert "3 of 3 new papers in cs.CL today" in contexts(first)
    saved = ids_of(services, [f"2612.{i:05d}" for i in (1, 2, 3)])
    with services.db.session() as s:
        for i, pid in enumerate(saved):
            feedback.set_save(s, TEAM_ID, f"U0SAVER{i}", "C0NLP", pid, True)

    # Friday: 7 off-topic papers first in the feed, then 3 on speech; a cs.LG paper
    # cross-listed to cs.CL (new in cs.LG: one row, counted once); a replacement of
    # Thursday's paper (a revision: not in the day's post).
    on_topic = speech(20)
    off = [FeedItem(f"2612.{10 + i:05d}", t) for i, t in enumerate(OFF)]
    cross = FeedItem("2612.00030", "Optimisers for language model pretraining",
                     announce_type="cross", categories=("cs.LG", "cs.CL"))
    replaced = FeedItem("2612.00001", SPEECH[0] + " part 1", version=2,
                        announce_type="replace")
    fake_arxiv.set_feed("cs.CL", [*off, *on_topic, cross, replaced], FRI)
    fake_arxiv.set_feed("cs.LG", [FeedItem("2612.00030", cross.title, categories=("cs.LG",
                                                                                  "cs.CL"))])
    requests = len(fake_arxiv.requests)
    out = digest_now(capsys, FRI)
    assert [r.path for r in fake_arxiv.requests[requests:]] == ["/rss/cs.CL+cs.LG"]  # ONE
    assert "completed 2 with" in out, out

    [_, (friday, replies)] = digest_of(fake_slack, "C0NLP")
    order = shown(friday)
    assert len(order) == 10 and len(replies) == 10
    assert set(order[:3]) == {i.arxiv_id for i in on_topic}, order  # its saves rank first
    assert "2612.00001" not in order  # the replacement is no new paper
    # 7 off + 3 on + the cross-list = 11 new papers in cs.CL; 10 shown.
    lines = contexts(friday)
    assert "10 of 11 new papers in cs.CL today" in lines, lines
    assert any("learned from 3 saves" in line for line in lines), lines
    assert validate_message({"text": friday["text"], "blocks": friday["blocks"]}) == []
    [_, (ml, _)] = digest_of(fake_slack, "C0ML")
    # In both categories' feeds, one row: counted once (11, not 12).
    assert "10 of 11 new papers in cs.CL, cs.LG today" in contexts(ml), contexts(ml)

    # Again on Friday: nothing new posted, and arXiv is not asked again.
    posted, requests = len(fake_slack.posted()), len(fake_arxiv.requests)
    out = digest_now(capsys, FRI)
    assert len(fake_slack.posted()) == posted and len(fake_arxiv.requests) == requests
    assert "2 already had today's digest" in out, out

    # Saturday: arXiv announces nothing (an empty feed): nothing posted, not an error.
    fake_arxiv.set_feed("cs.CL", [], SAT)
    fake_arxiv.set_feed("cs.LG", [], SAT)
    out = digest_now(capsys, SAT)
    assert len(fake_slack.posted()) == posted
    assert "planned 2 digests (2 with nothing new)" in out, out
    assert "arXiv: 0 new, 0 updated papers" in out, out
    for channel in ("C0NLP", "C0ML"):
        assert_exactly_once(fake_slack, channel)


@pytest.mark.usefixtures("cli_env")
def test_a_feed_that_has_not_moved_on_is_not_posted_again(
    services: Services,
    poster: SlackPoster,
    fake_slack: FakeSlack,
    fake_arxiv: FakeArxivFeeds,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Friday's cycle runs before arXiv's update and still sees Thursday's announcement:
    the rest of Thursday's papers are not Friday's news; the day waits for the new feed."""
    fake_slack.add_channel("C0NLP", "nlp")
    subscribe(services, poster, "C0NLP", "subscribe arxiv cs.CL speech at 09:00")
    said = subscribe(services, poster, "C0NLP", "subscribe me arxiv cs.CL at 09:00")
    assert "your own top 10 of the day's new arXiv papers in cs.CL" in said, said
    items = [FeedItem(f"2612.{10 + i:05d}", t) for i, t in enumerate(OFF)] + speech(20)
    fake_arxiv.set_feed("cs.CL", items, THU)
    digest_now(capsys, THU)
    [(thursday, _)] = digest_of(fake_slack, "C0NLP")
    assert set(shown(thursday)[:3]) == {i.arxiv_id for i in speech(20)}  # topic's BM25 first
    assert "10 of 10 new papers in cs.CL today" in contexts(thursday)
    [(mine, replies)] = digest_of(fake_slack, "DU0ALICE")  # the personal digest: its DM
    assert mine["blocks"][0]["text"]["text"].startswith("Your new papers in cs.CL")
    assert len(shown(mine)) == 10 and len(replies) == 10

    fake_arxiv.set_feed("cs.CL", [*items, *speech(40, 2)], THU)  # more, same day: still old
    out = digest_now(capsys, FRI)
    assert len(digest_of(fake_slack, "C0NLP")) == 1 and "planned 0 digests" in out, out
    fake_arxiv.set_feed("cs.CL", speech(40, 2), FRI)  # arXiv's update arrives
    out = digest_now(capsys, FRI)
    [_, (friday, _)] = digest_of(fake_slack, "C0NLP")
    assert shown(friday) == ["2612.00040", "2612.00041"]
    assert "2 of 2 new papers in cs.CL today" in contexts(friday)
    assert [shown(p) for p, _ in digest_of(fake_slack, "DU0ALICE")][1:] == [shown(friday)]
    assert_exactly_once(fake_slack, "C0NLP")
    assert_exactly_once(fake_slack, "DU0ALICE")


def digest_failing(capsys: pytest.CaptureFixture[str], day: date) -> tuple[str, str]:
    """`digest --once --now` that must exit 1: (stdout, the stderr line it ends with)."""
    with time_machine.travel(at_ten(day)):
        code = main(["digest", "--once", "--now"])
    out, err = capsys.readouterr()
    assert code == 1, (out, err)
    assert "Traceback" not in err
    return out, err.strip().splitlines()[-1]


@pytest.mark.usefixtures("cli_env")
def test_a_failed_arxiv_feed_holds_back_only_the_category_digests(
    services: Services,
    poster: SlackPoster,
    fake_slack: FakeSlack,
    fake_hf: FakeHF,
    fake_arxiv: FakeArxivFeeds,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """arXiv's feed failing is not the Hub's: the trending digest is planned and posted, the
    category digest waits for the next cycle, and the exit status still says something
    failed; with both sources down, both failures are named."""
    fake_slack.add_channel("C0NLP", "nlp")
    fake_slack.add_channel("C0HOT", "hot")
    subscribe(services, poster, "C0NLP", "subscribe arxiv cs.CL at 09:00")
    subscribe(services, poster, "C0HOT", "subscribe at 09:00")
    fake_hf.set_day(FRI, day_entries(3))
    fake_arxiv.set_feed("cs.CL", speech(1), FRI)
    fake_arxiv.garbage = True

    out, problem = digest_failing(capsys, FRI)
    assert problem.startswith("paperbot: arXiv feed failed, 1 category digest waits for the "
                              "next cycle: "), problem
    assert "digest fetch failed" not in problem and "nothing new" not in problem, problem
    assert "fetched 3 papers" in out and "planned 1 digests" in out, out
    assert len(digest_of(fake_slack, "C0HOT")) == 1  # the Hub's digest went out
    assert fake_slack.posted("C0NLP") == []

    fake_arxiv.garbage = False  # the next cycle: the category digest, and no error
    out = digest_now(capsys, FRI)
    assert len(digest_of(fake_slack, "C0NLP")) == 1 and "planned 1 digests" in out, out

    fake_hf.mode = "garbage"  # Saturday: both down, both named, nothing planned
    fake_arxiv.garbage = True
    out, problem = digest_failing(capsys, SAT)
    hub, arxiv = problem.removeprefix("paperbot: ").split(" | ")
    assert hub.startswith("digest fetch failed, no trending digest was planned: "), hub
    assert "not JSON" in hub, hub
    assert arxiv.startswith("arXiv feed failed, 1 category digest waits for the next cycle"), arxiv
    assert "planned 0 digests" in out, out
    for channel in ("C0NLP", "C0HOT"):
        assert len(digest_of(fake_slack, channel)) == 1
        assert_exactly_once(fake_slack, channel)


@pytest.mark.usefixtures("cli_env")
def test_a_stored_name_arxiv_does_not_have_stays_out_of_the_shared_feed(
    services: Services,
    poster: SlackPoster,
    fake_slack: FakeSlack,
    fake_arxiv: FakeArxivFeeds,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A subscription saved before names were checked against arXiv's taxonomy ("cs.XX")
    must not ride in the one feed request every category digest shares: the feed asks for
    the real names only and both channels get their day."""
    from storage import digest as repo

    fake_slack.add_channel("C0NLP", "nlp")
    fake_slack.add_channel("C0OLD", "old")
    subscribe(services, poster, "C0NLP", "subscribe arxiv cs.CL at 09:00")
    with services.db.session() as s:  # as an older release stored it
        repo.subscribe(s, team_id=TEAM_ID, channel_id="C0OLD", topic="", post_time="09:00",
                       tz="UTC", created_by="U0ALICE", now=at_ten(THU),
                       categories="cs.XX cs.CL")
    fake_arxiv.set_feed("cs.CL", speech(20), THU)
    digest_now(capsys, THU)
    feeds = [r.path for r in fake_arxiv.requests if r.path.startswith("/rss/")]
    assert feeds == ["/rss/cs.CL"], feeds
    assert len(digest_of(fake_slack, "C0NLP")) == 1 and len(digest_of(fake_slack, "C0OLD")) == 1
