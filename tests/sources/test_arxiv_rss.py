"""`paperbot fetch-arxiv`: arXiv's daily announcement feed, stored by bare arXiv id,
through the real CLI against a fake arXiv, on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import json
from datetime import date

import pytest

from storage.db import Database
from storage.models import Paper
from storage.papers import PaperRecord, upsert_papers
from tests.fakes.arxiv_feeds import FakeArxivFeeds, FeedItem
from tests.sources.conftest import run

DAY = date(2026, 12, 4)  # a Friday


def _rows(db_url: str) -> dict[str, Paper]:
    db = Database(db_url)
    try:
        with db.session() as s:
            rows = {p.arxiv_id or "": p for p in s.query(Paper).all()}
            for p in rows.values():
                s.expunge(p)
            return rows
    finally:
        db.dispose()


def test_fetch_stores_categories_versions_and_announcements(
    db_url: str, arxiv_env: dict[str, str], fake_arxiv: FakeArxivFeeds
) -> None:
    fake_arxiv.set_feed("cs.CL", [
        FeedItem("2612.01001", "Speculative Decoding for Speech", categories=("cs.CL", "eess.AS"),
                 authors=("Tri Dao", "Ada Lovelace", "Alan Turing")),
        FeedItem("2612.01002", "Old Paper Revised", version=3, announce_type="replace"),
    ], DAY)
    fake_arxiv.set_feed("cs.LG", [
        FeedItem("2612.01001", "Speculative Decoding for Speech", announce_type="cross",
                 categories=("cs.LG",)),
        FeedItem("2612.01003", "Cross-listed Optimisers", announce_type="cross",
                 categories=("math.OC", "cs.LG")),
    ], DAY)
    out = run(arxiv_env, "fetch-arxiv", "--category", "cs.CL", "--category", "cs.LG")
    assert out.returncode == 0, out.stderr
    assert "3 new, 0 updated papers in cs.CL, cs.LG (announced 2026-12-04)" in out.stdout
    assert [r.path for r in fake_arxiv.requests] == ["/rss/cs.CL+cs.LG"]  # ONE request
    assert fake_arxiv.requests[0].headers["user-agent"].startswith("PaperBot/")

    rows = _rows(arxiv_env["DATABASE_URL"])
    new = rows["2612.01001"]
    assert new.key == "arxiv:2612.01001" and new.source == "arxiv"
    assert new.categories == "cs.CL eess.AS" and new.version == 1
    assert (new.announced, new.announce_type, new.published) == (DAY, "new", DAY)
    assert new.authors == ["Tri Dao", "Ada Lovelace", "Alan Turing"]
    assert new.abstract.startswith("We study speculative decoding")
    assert new.url == "https://arxiv.org/abs/2612.01001"
    old = rows["2612.01002"]
    assert (old.version, old.announce_type, old.published) == (3, "replace", None)
    assert rows["2612.01003"].categories == "math.OC cs.LG"

    # Searchable at once, through the saved index the command left behind.
    found = run(arxiv_env, "search", "speculative decoding", "--json")
    assert found.returncode == 0, found.stderr
    assert [r["id"] for r in json.loads(found.stdout)][:1] == ["2612.01001"]


def test_a_replacement_bumps_the_version_of_the_one_row(
    db_url: str, arxiv_env: dict[str, str], fake_arxiv: FakeArxivFeeds
) -> None:
    """The same paper from HF and from the feed is one row; a later "replace" bumps its
    version and records the day, and keeps the rest of the row (HF's upvotes, code link)."""
    db = Database(db_url)
    db.migrate()
    with db.session() as s:
        upsert_papers(s, [PaperRecord(
            title="Speculative Decoding for Speech", abstract="HF's abstract of it, longer.",
            source="hf", arxiv_id="2612.01001", upvotes=42,
            code_url="https://github.com/x/y", published=date(2026, 12, 1),
        )])
    db.dispose()
    fake_arxiv.set_feed("cs.CL", [FeedItem("2612.01001", "Speculative Decoding for Speech")],
                        date(2026, 12, 2))
    assert run(arxiv_env, "fetch-arxiv", "--category", "cs.CL").returncode == 0
    fake_arxiv.set_feed("cs.CL", [FeedItem("2612.01001", "Speculative Decoding for Speech",
                                           version=2, announce_type="replace")], DAY)
    out = run(arxiv_env, "fetch-arxiv", "--category", "cs.CL")
    assert out.returncode == 0, out.stderr
    assert "0 new, 1 updated papers in cs.CL (announced 2026-12-04)" in out.stdout
    rows = _rows(db_url)
    assert list(rows) == ["2612.01001"]
    p = rows["2612.01001"]
    assert (p.version, p.announced, p.announce_type) == (2, DAY, "replace")
    assert (p.source, p.upvotes, p.code_url) == ("hf", 42, "https://github.com/x/y")
    assert p.published == date(2026, 12, 1) and p.categories == "cs.CL"
    # Fetching the same feed again changes nothing; an older feed does not move it back.
    again = run(arxiv_env, "fetch-arxiv", "--category", "cs.CL")
    assert "0 new, 0 updated papers" in again.stdout
    fake_arxiv.set_feed("cs.CL", [FeedItem("2612.01001", "Speculative Decoding for Speech")],
                        date(2026, 12, 2))
    run(arxiv_env, "fetch-arxiv", "--category", "cs.CL")
    p = _rows(db_url)["2612.01001"]
    assert (p.version, p.announced, p.announce_type) == (2, DAY, "replace")


def test_weekend_feed_is_empty_not_an_error(
    arxiv_env: dict[str, str], fake_arxiv: FakeArxivFeeds
) -> None:
    fake_arxiv.set_feed("cs.CL", [], date(2026, 12, 5))
    out = run(arxiv_env, "fetch-arxiv", "--category", "cs.CL")
    assert out.returncode == 0, out.stderr
    assert "0 new, 0 updated papers in cs.CL" in out.stdout
    assert "weekends and holidays" in out.stdout or "announced 2026-12-05" in out.stdout
    assert "Traceback" not in out.stderr


def test_retry_after_is_honoured(arxiv_env: dict[str, str], fake_arxiv: FakeArxivFeeds) -> None:
    fake_arxiv.set_feed("cs.CL", [FeedItem("2612.01001", "A Paper")], DAY)
    fake_arxiv.fail_next(1, 429, "1")
    fake_arxiv.fail_next(2, 503, "1")
    out = run(arxiv_env, "fetch-arxiv", "--category", "cs.CL")
    assert out.returncode == 0, out.stderr
    assert "1 new" in out.stdout
    times = [r.at for r in fake_arxiv.requests]
    assert len(times) == 4  # 429, 503, 503, then the feed
    assert all(b - a >= 0.9 for a, b in itertools.pairwise(times)), times
    # The waits are arXiv's 1 s, not the fallback backoff (2 + 4 + 8 s).
    assert times[-1] - times[0] < 10, times


@pytest.mark.parametrize("garbage", ["malformed", "retry-after too long", "always busy"])
def test_unusable_feed_is_a_clear_error_and_stores_nothing(
    db_url: str, arxiv_env: dict[str, str], fake_arxiv: FakeArxivFeeds, garbage: str
) -> None:
    fake_arxiv.set_feed("cs.CL", [FeedItem(f"2612.0100{i}", f"Paper {i}") for i in range(5)], DAY)
    if garbage == "malformed":
        fake_arxiv.garbage = True
    elif garbage == "retry-after too long":
        fake_arxiv.fail_next(1, 503, "3600")
    else:
        fake_arxiv.fail_next(50, 503, "0")
    out = run(arxiv_env, "fetch-arxiv", "--category", "cs.CL")
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    assert "paperbot: arXiv feed" in out.stderr and "Nothing was stored" in out.stderr
    expected = {"malformed": "not a well-formed feed", "retry-after too long":
                "retry after 3600 s", "always busy": "HTTP 503 after 5 tries"}[garbage]
    assert expected in out.stderr
    assert _rows(db_url) == {}


def test_no_categories_is_a_clear_message(arxiv_env: dict[str, str],
                                          fake_arxiv: FakeArxivFeeds) -> None:
    out = run(arxiv_env, "fetch-arxiv")
    assert out.returncode == 0, out.stderr
    assert "No arXiv categories to fetch" in out.stdout
    assert fake_arxiv.requests == []
    bad = run(arxiv_env, "fetch-arxiv", "--category", "cs.CL;DROP")
    assert bad.returncode == 2 and "not an arXiv category" in bad.stderr


def test_categories_default_to_the_environment(
    arxiv_env: dict[str, str], fake_arxiv: FakeArxivFeeds
) -> None:
    fake_arxiv.set_feed("cs.LG", [FeedItem("2612.01009", "Env Paper", categories=("cs.LG",))],
                        DAY)
    out = run({**arxiv_env, "PAPERBOT_ARXIV_CATEGORIES": "cs.LG, cs.CL"}, "fetch-arxiv")
    assert out.returncode == 0, out.stderr
    assert "1 new, 0 updated papers in cs.LG, cs.CL" in out.stdout
    assert [r.path for r in fake_arxiv.requests] == ["/rss/cs.LG+cs.CL"]
