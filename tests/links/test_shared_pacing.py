"""Link lookups take arXiv's turns from the pacer every PaperBot process shares (a row in
`meta`, PAPERBOT_ARXIV_PACE apart): a server unfurling links and a backfill in another
process never ask arXiv closer than the interval; a turn past the lookup's deadline is not
booked and the lookup fails at once; a database that cannot hand out a turn is a lookup
error. Signed link_shared events over HTTP against the fake Slack, Hub, arXiv API and
arXiv OAI-PMH, on both backends."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from itertools import pairwise
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.links.fetch import DEADLINE, NoArxivTurn, fetch_arxiv
from bot.sources.pacing import META_KEY, SharedPacer
from bot.sources.run import backfill_arxiv
from storage.db import Database
from tests.fakes.arxiv_api import ArxivPaper, FakeArxiv
from tests.fakes.arxiv_feeds import FakeArxivFeeds, OaiRecord
from tests.fakes.hf_api import FakeHF
from tests.fakes.slack_api import FakeSlack
from tests.links.conftest import TEST_ARXIV_INTERVAL
from tests.links.test_lookups import _log_lines
from tests.links.test_unfurl import _card_text, _share, _unfurls
from tests.listeners.support import Running, make_services
from tests.logcapture import captured_log


def _booked(db: Database) -> str | None:
    with db.session() as s:
        return s.execute(text("SELECT value FROM meta WHERE key = :k"), {"k": META_KEY}).scalar()


def test_lookups_and_a_backfill_in_another_process_share_arxivs_pace(
    db_url: str, tmp_path: Path, paperbot: Running, fake_slack: FakeSlack, fake_hf: FakeHF,
    fake_arxiv: FakeArxiv,
) -> None:
    """Three messages' lookups on the server while `paperbot backfill-arxiv`'s work (its
    own Services on the same database) pages through OAI-PMH: all eleven requests to
    arXiv's two hosts are at least the interval apart."""
    ids = ["2405.00001", "2405.00002", "2405.00003"]
    for i in ids:
        fake_arxiv.set_paper(ArxivPaper(i, f"Wombat paper {i}"))
    with FakeArxivFeeds() as feeds:
        feeds.records = [OaiRecord(f"2611.{n:05d}", f"Backfilled paper {n}") for n in range(16)]
        feeds.page_size = 2  # 8 pages: 8 requests, the links shared while they go on
        cli = make_services(
            db_url, tmp_path / "cli", fake_slack, PAPERBOT_SEED="0",
            PAPERBOT_ARXIV_OAI_URL=feeds.oai_url, PAPERBOT_ARXIV_PACE=str(TEST_ARXIV_INTERVAL),
        )
        try:
            with ThreadPoolExecutor(4) as pool:
                backfill = pool.submit(backfill_arxiv, cli, "cs.CL", date(2026, 11, 1))
                fake_slack.wait_for(lambda: feeds.requests, timeout=10)
                list(pool.map(lambda i: _share(paperbot, [f"https://arxiv.org/abs/{i}"]), ids))
                report = backfill.result(timeout=60)
        finally:
            cli.db.dispose()
        calls = _unfurls(fake_slack, 3)
        to_wall = time.time() - time.monotonic()  # the API fake stamps monotonic time
        times = sorted([r.at + to_wall for r in fake_arxiv.requests]
                       + [r.at for r in feeds.requests])
    assert report.pages == 8 and report.counts is not None and report.counts.added == 16
    assert {u.rsplit("/", 1)[-1] for c in calls for u in c["unfurls"]} == set(ids)
    assert len(times) == 11
    gaps = [b - a for a, b in pairwise(times)]
    assert all(g >= TEST_ARXIV_INTERVAL for g in gaps), gaps


def test_a_lookup_whose_turn_is_past_its_deadline_fails_at_once_without_booking(
    db_url: str, paperbot: Running, fake_slack: FakeSlack, fake_hf: FakeHF,
    fake_arxiv: FakeArxiv,
) -> None:
    """Another process holds arXiv's next turn until after the lookup's deadline: the link
    gets no card (Slack's preview stays, one log line) within a moment, arXiv is not
    asked, the queue is not lengthened, and the id is not remembered as a miss."""
    fake_arxiv.set_paper(ArxivPaper("2405.00009", "Quokka Attention"))
    url = "https://arxiv.org/abs/2405.00009"
    other = Database(db_url)
    try:
        SharedPacer(other, DEADLINE - 1.0).wait()  # its next turn: 9 s from now
        booked = _booked(other)
        with captured_log() as buf:
            started = time.monotonic()
            _share(paperbot, [url])
            [line] = _log_lines(buf, f"no card for {url}", 1)
            took = time.monotonic() - started
        assert _booked(other) == booked
        assert "arXiv is paced: next request slot in" in line, line
        assert took < 3.0, took
        assert fake_arxiv.requests == []
        assert fake_slack.calls_to("chat.unfurl") == [] and fake_slack.posted() == []
        with other.session() as s:  # that process is done: the queue is free
            s.execute(text("UPDATE meta SET value = '0' WHERE key = :k"), {"k": META_KEY})
    finally:
        other.dispose()
    _share(paperbot, [url])  # shared again: looked up (not a remembered miss), a card
    [call] = _unfurls(fake_slack)
    assert "Quokka Attention" in _card_text(call["unfurls"][url])
    assert len(fake_arxiv.requests) == 1


@pytest.mark.parametrize("kind", ["sqlite-unopenable", "postgres-refused"])
def test_a_database_that_cannot_hand_out_a_turn_is_a_lookup_error(
    kind: str, tmp_path: Path
) -> None:
    url = (f"sqlite:///{tmp_path}" if kind == "sqlite-unopenable"  # a directory, not a file
           else "postgresql://paperbot@127.0.0.1:1/paperbot")  # nothing listens there
    db = Database(url)
    try:
        with FakeArxiv() as arxiv:
            arxiv.set_paper(ArxivPaper("2405.00010", "Dingo Decoding"))
            started = time.monotonic()
            with pytest.raises(NoArxivTurn, match=r"database failed \(OperationalError\)"):
                fetch_arxiv(arxiv.api_url, "2405.00010", pacer=SharedPacer(db, 0.3))
            assert time.monotonic() - started < 5
            assert arxiv.requests == []
    finally:
        db.dispose()
