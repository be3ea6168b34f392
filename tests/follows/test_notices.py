"""Done when (issue 18, items 4 and 5): a followed author's new paper reaches the
follower's DM once, an alert's reaches the channel once, a revision of a saved or shared
paper is announced once; through `paperbot digest --once --now` (in-process CLI) and
`paperbot fetch-arxiv` (subprocess) against the fake Hub, arXiv and Slack, on both backends.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine

from bot.cli import main
from bot.config import Config
from bot.follows import commands
from bot.services import Services
from storage import digest as digest_repo
from storage import feedback
from storage import follows as repo
from storage.library import record_save, record_share
from storage.models import FollowNotice, RevisionNotice
from storage.papers import PaperRecord, upsert_papers
from tests.conftest import PAPERBOT, make_cli_env
from tests.fakes.arxiv_feeds import FakeArxivFeeds, FeedItem, OaiRecord
from tests.fakes.hf_api import FakeHF, hf_entry
from tests.fakes.slack_api import TEAM_ID, FakeSlack

BOT_TOKEN = "xoxb-1111-2222-followstokennevershown"
NOW = datetime(2026, 11, 26, 6, 0, tzinfo=UTC)
DAY = date(2026, 12, 4)  # the feed's announcement day (a Friday)


def _env(db_url: str, tmp_path: Path, slack: FakeSlack, hf: FakeHF,
         arxiv: FakeArxivFeeds) -> dict[str, str]:
    env = make_cli_env(db_url, tmp_path)
    env.update(
        SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_API_URL=slack.api_url, HF_API_URL=hf.api_url,
        PAPERBOT_ARXIV_RSS_URL=arxiv.rss_url, PAPERBOT_ARXIV_OAI_URL=arxiv.oai_url,
        PAPERBOT_ARXIV_PACE="0.2", PAPERBOT_SEED="0",
    )
    return env


@pytest.fixture
def env(db_url: str, tmp_path: Path, fake_slack: FakeSlack, fake_hf: FakeHF,
        fake_arxiv: FakeArxivFeeds) -> dict[str, str]:
    return _env(db_url, tmp_path, fake_slack, fake_hf, fake_arxiv)


@pytest.fixture
def services(env: dict[str, str]) -> Iterator[Services]:
    svc = Services.create(Config.from_env(env), seed=False)
    yield svc
    svc.close()


def _follow(services: Services, words: str, *, kind: str = repo.AUTHOR, user: str = "U0ALICE",
            channel: str = "C0GENERAL", team: str = TEAM_ID) -> str:
    with services.db.session() as s:
        return commands.follow(s, commands.Who(team, user, channel), words, kind=kind)


def _texts(msgs: list[dict[str, Any]]) -> list[str]:
    return [m["text"] for m in msgs]


def _rows(services: Services, model: type) -> list[Any]:
    with services.db.session() as s:
        return list(s.query(model).all())


def test_digest_once_now_announces_follows_and_alerts_once(
    env: dict[str, str], services: Services, fake_slack: FakeSlack, fake_hf: FakeHF,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("LOG_LEVEL", raising=False)
    fake_slack.add_channel("C0PAPERS", "papers", is_member=True)
    # Known before Carol follows its author: not "new" to her follow.
    with time_machine.travel(NOW - timedelta(days=3), tick=True), services.db.session() as s:
        upsert_papers(s, [PaperRecord(title="Compilers of Old", abstract="An old one.",
                                      source="hf", arxiv_id="2611.00001",
                                      authors=("Grace Hopper",))])
    with time_machine.travel(NOW, tick=True):
        assert "Following" in _follow(services, 'author "Tri Dao"')
        assert "Alert set" in _follow(services, "speculative decoding", kind=repo.ALERT)
        assert "in this channel" in _follow(services, 'here "kv cache"', kind=repo.ALERT,
                                            channel="C0PAPERS")
        _follow(services, "author Grace Hopper", user="U0CAROL")
        _follow(services, "author Tri Dao", user="U0BOB", team="T0OTHER")  # another team
        recent = "2026-11-25T13:00:00.000Z"
        fake_hf.set_day(NOW.date(), [
            hf_entry("2611.10001", "Speculative Decoding with Fast Attention",
                     authors=("Tri Dao", "Ada Lovelace"), published=recent),
            hf_entry("2611.10002", "Speculative decoding for speech",
                     authors=("Alan Turing",), published=recent),
            hf_entry("2611.10003", "Compressing long contexts", published=recent,
                     summary="We shrink the KV-caches of large models."),
            hf_entry("2611.10004", "Graph learning", authors=("T. Dao",), published=recent),
            hf_entry("2611.00001", "Compilers of Old", authors=("Grace Hopper",),
                     published=recent),
            # New to the library, but out for over a year: the Hub trending an old paper.
            hf_entry("2508.00005", "An Old Speculative Decoding Idea", authors=("Tri Dao",),
                     published="2025-08-19T13:00:00.000Z"),
        ])
        code = main(["digest", "--once", "--now"])
        err = capsys.readouterr().err
        assert code == 0, err
        first = len(fake_slack.posted())

        alice = fake_slack.posted("DU0ALICE")
        assert sorted(_texts(alice)) == [
            "Matches your alert “speculative decoding”: Speculative decoding for speech",
            "New paper by Tri Dao (you follow Tri Dao) · Matches your alert “speculative "
            "decoding”: Speculative Decoding with Fast Attention",
        ], _texts(alice)
        assert _texts(fake_slack.posted("C0PAPERS")) == [
            "Matches this channel's alert “kv cache”: Compressing long contexts"]
        assert fake_slack.posted("DU0CAROL") == []  # Hopper's paper was not new to her
        # Bob's follow is in another workspace; single-token mode posts it with the same
        # token (in OAuth mode, his workspace's): his own DM, nobody else's.
        assert _texts(fake_slack.posted("DU0BOB")) == [
            "New paper by Tri Dao (you follow Tri Dao): Speculative Decoding with Fast Attention"]
        meta = alice[0]["metadata"]["event_payload"]
        assert meta["notice"] == "follow" and isinstance(meta["paper_id"], int)

        # Run twice: nothing again.
        code = main(["digest", "--once", "--now"])
        assert code == 0, capsys.readouterr().err
        assert len(fake_slack.posted()) == first
    states = sorted(n.state for n in _rows(services, FollowNotice))
    assert states == ["posted"] * 5


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*PAPERBOT, *args], env=env, capture_output=True, text=True,
                          timeout=120)


def test_fetch_arxiv_announces_revisions_of_library_papers_once(
    env: dict[str, str], services: Services, fake_slack: FakeSlack,
    fake_arxiv: FakeArxivFeeds,
) -> None:
    fake_slack.add_channel("C0PAPERS", "papers", is_member=True)
    fake_slack.add_channel("C0GONE", "old-stuff", is_archived=True)
    long_ago = datetime(2026, 11, 1, 12, tzinfo=UTC)
    with services.db.session() as s:
        upsert_papers(s, [
            PaperRecord(title=f"Paper {n}", abstract="About it.", source="arxiv",
                        arxiv_id=f"2611.0000{n}", version=1, announced=long_ago.date(),
                        announce_type="new")
            for n in (1, 2, 3, 4)
        ])
        ids = {p.arxiv_id: p.id for p in repo.papers(s, range(1, 100))}
    shared, saved, shared_gone, nobody = (ids[f"2611.0000{n}"] for n in (1, 2, 3, 4))
    with services.db.session() as s:
        record_share(s, TEAM_ID, shared, user_id="U0ALICE", channel_id="C0PAPERS",
                     ts="1700000000.000100", permalink=None, at=long_ago, public=True)
        feedback.set_save(s, TEAM_ID, "U0BOB", "C0PAPERS", saved, True)
        record_save(s, TEAM_ID, saved, user_id="U0BOB", channel_id="C0PAPERS", at=long_ago)
        record_share(s, TEAM_ID, shared_gone, user_id="U0ALICE", channel_id="C0GONE",
                     ts="1700000000.000200", permalink=None, at=long_ago, public=True)
        feedback.set_save(s, TEAM_ID, "U0CAROL", "C0GONE", shared_gone, True)
        record_save(s, TEAM_ID, shared_gone, user_id="U0CAROL", channel_id="C0GONE",
                    at=long_ago)
        # In no library: a new version of it is nobody's news.
        assert nobody
    assert "Following" in _follow(services, "author Tri Dao")

    fake_arxiv.set_feed("cs.CL", [
        FeedItem("2611.00001", "Paper 1", version=2, announce_type="replace"),
        FeedItem("2611.00002", "Paper 2", version=3, announce_type="replace"),
        FeedItem("2611.00003", "Paper 3", version=2, announce_type="replace-cross"),
        FeedItem("2611.00004", "Paper 4", version=2, announce_type="replace"),
        FeedItem("2612.01001", "Flash Decoding", authors=("Tri Dao", "Ada Lovelace")),
    ], DAY)
    out = _run(env, "fetch-arxiv", "--category", "cs.CL")
    assert out.returncode == 0, out.stderr
    assert "BOT_TOKEN" not in out.stderr and BOT_TOKEN not in out.stderr
    assert out.stdout.strip().endswith(
        "(announced 2026-12-04); notices: 1 for follows and alerts, 3 new versions"), out.stdout

    thread = fake_slack.posted("C0PAPERS")
    assert [(m["text"], m.get("thread_ts")) for m in thread] == [
        ("New version (v2): Paper 1", "1700000000.000100")]
    assert _texts(fake_slack.posted("DU0BOB")) == ["New version (v3): Paper 2"]
    # Its thread is in an archived channel: the user who saved it is told instead.
    assert _texts(fake_slack.posted("DU0CAROL")) == ["New version (v2): Paper 3"]
    assert fake_slack.posted("C0GONE") == []
    assert _texts(fake_slack.posted("DU0ALICE")) == [
        "New paper by Tri Dao (you follow Tri Dao): Flash Decoding"]
    assert "you saved" in str(fake_slack.posted("DU0BOB")[0]["blocks"])
    posted = len(fake_slack.posted())
    assert posted == 4

    # Run twice: the same feed announces nothing again (and its output says no notices).
    out = _run(env, "fetch-arxiv", "--category", "cs.CL")
    assert out.returncode == 0, out.stderr
    assert len(fake_slack.posted()) == posted
    assert "notices" not in out.stdout, out.stdout
    rows = sorted((r.paper_id, r.version, r.state) for r in _rows(services, RevisionNotice))
    assert rows == [(shared, 2, "posted"), (saved, 3, "posted"), (shared_gone, 2, "posted")]


def test_a_paper_only_in_the_digests_arxiv_feed_is_announced_in_the_same_run_once(
    env: dict[str, str], services: Services, fake_slack: FakeSlack, fake_hf: FakeHF,
    fake_arxiv: FakeArxivFeeds, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The cycle's notices run after the Hub's store, before arXiv's feed is read; the
    feed's fetch announces what it stored (with the cycle's poster), in the same `digest
    --once --now`, and the summary counts both in one total (and says nothing about
    notices when there were none)."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("LOG_LEVEL", raising=False)
    fake_slack.add_channel("C0NLP", "nlp", is_member=True)
    with time_machine.travel(NOW, tick=True):
        _follow(services, "author Tri Dao")
        _follow(services, "speculative decoding", kind=repo.ALERT)
        with services.db.session() as s:
            digest_repo.subscribe(s, team_id=TEAM_ID, channel_id="C0NLP", topic="",
                                  post_time="09:00", tz="UTC", created_by="U0ALICE",
                                  now=datetime.now(UTC), categories="cs.CL")
        fake_hf.set_day(NOW.date(), [hf_entry(
            "2611.10002", "Speculative decoding for speech", authors=("Alan Turing",),
            published="2026-11-25T13:00:00.000Z")])
        fake_arxiv.set_feed("cs.CL", [FeedItem("2611.30001", "Flash Decoding Three",
                                               authors=("Tri Dao", "Ada Lovelace"))],
                            date(2026, 11, 25))
        code = main(["digest", "--once", "--now"])
        out, err = capsys.readouterr()
        assert code == 0, err
        assert sorted(_texts(fake_slack.posted("DU0ALICE"))) == [
            "Matches your alert “speculative decoding”: Speculative decoding for speech",
            "New paper by Tri Dao (you follow Tri Dao): Flash Decoding Three",
        ]
        summary = out.splitlines()[0]
        assert ("fetched 1 papers; notices: 2 for follows and alerts; arXiv: 1 new, 0 updated "
                "papers in cs.CL (announced 2026-11-25); planned 1 digests") in summary, summary
        assert len(fake_slack.posted("C0NLP")) == 2  # the category digest: day + abstract

        code = main(["digest", "--once", "--now"])
        out, err = capsys.readouterr()
        assert code == 0, err
        assert len(fake_slack.posted("DU0ALICE")) == 2
        assert "notices" not in out, out
    assert sorted(n.state for n in _rows(services, FollowNotice)) == ["posted", "posted"]


def test_backfill_arxiv_says_how_many_notices_it_sent(
    env: dict[str, str], services: Services, fake_slack: FakeSlack,
    fake_arxiv: FakeArxivFeeds,
) -> None:
    """`paperbot backfill-arxiv` prints its notices beside what it stored, only when any."""
    assert "Following" in _follow(services, "author Tri Dao")
    recent = (datetime.now(UTC) - timedelta(days=3)).date().isoformat()
    fake_arxiv.records = [
        OaiRecord("2612.04001", "Flash Decoding Four", authors=(("Dao", "Tri"),),
                  created=recent, datestamp=recent),
        OaiRecord("2612.04002", "Parsing Revisited", created=recent, datestamp=recent),
    ]
    out = _run(env, "backfill-arxiv", "--category", "cs.CL", "--from", recent)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("; notices: 1 for follows and alerts"), out.stdout
    assert _texts(fake_slack.posted("DU0ALICE")) == [
        "New paper by Tri Dao (you follow Tri Dao): Flash Decoding Four"]

    again = _run(env, "backfill-arxiv", "--category", "cs.CL", "--from", recent)
    assert again.returncode == 0, again.stderr
    assert "notices" not in again.stdout, again.stdout
    assert len(fake_slack.posted("DU0ALICE")) == 1


def test_undeliverable_notices_do_not_stop_the_others_and_a_refused_dm_is_retried(
    env: dict[str, str], services: Services, fake_slack: FakeSlack, fake_hf: FakeHF,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("LOG_LEVEL", raising=False)
    fake_slack.add_channel("C0ARCHIVED", "old", is_archived=True)
    with time_machine.travel(NOW, tick=True):
        _follow(services, 'here "kv cache"', kind=repo.ALERT, channel="C0ARCHIVED")
        _follow(services, "author Tri Dao", user="U0DAVE")  # Slack does not know Dave yet
        _follow(services, "author Tri Dao")
        fake_hf.set_day(NOW.date(), [hf_entry(
            "2611.20001", "KV cache tricks", authors=("Tri Dao",),
            published="2026-11-25T13:00:00.000Z")])
        assert main(["digest", "--once", "--now"]) == 0, capsys.readouterr().err
        assert _texts(fake_slack.posted("DU0ALICE")) == [
            "New paper by Tri Dao (you follow Tri Dao): KV cache tricks"]
        assert fake_slack.posted("C0ARCHIVED") == []
        states = {n.follow_id: n.state for n in _rows(services, FollowNotice)}
        assert sorted(states.values()) == ["failed", "posted"]  # Dave's claim was let go

        fake_slack.add_user("U0DAVE")  # conversations.open works now: the next run tells him
        assert main(["digest", "--once", "--now"]) == 0, capsys.readouterr().err
        assert len(fake_slack.posted("DU0DAVE")) == 1
        assert len(fake_slack.posted("DU0ALICE")) == 1 and fake_slack.posted("C0ARCHIVED") == []
