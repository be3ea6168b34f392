"""Team library storage on both backends: first-share semantics, saves join, ordering."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from storage import feedback as fb
from storage import library as lib
from storage.db import Database
from storage.models import Paper
from storage.papers import PaperRecord, upsert_papers

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def _papers(db: Database, n: int = 4) -> list[int]:
    with db.session() as s:
        upsert_papers(s, [PaperRecord(title=f"Paper {i} on zebra caching",
                                      abstract=f"Abstract {i}.", source="test")
                          for i in range(n)])
    with db.session() as s:
        return list(s.execute(select(Paper.id).order_by(Paper.id)).scalars())


def test_a_repeated_share_returns_the_first_one_per_workspace(db: Database) -> None:
    a, b, *_ = _papers(db)
    with db.session() as s:
        first = lib.record_share(s, "T1", a, user_id="UA", channel_id="C1", ts="100.1",
                                 permalink="https://x.slack.com/p1", at=T0, public=True)
        assert first is None  # the first share has nothing earlier
    with db.session() as s:  # Slack retries the first event: still the first
        assert lib.record_share(s, "T1", a, user_id="UA", channel_id="C1", ts="100.1",
                                permalink="https://x.slack.com/p1", at=T0) is None
    with db.session() as s:
        again = lib.record_share(s, "T1", a, user_id="UB", channel_id="C2", ts="200.2",
                                 permalink="https://x.slack.com/p2", at=T0 + timedelta(days=2))
    assert again is not None
    assert (again.paper_id, again.user_id, again.channel_id, again.ts, again.permalink) == (
        a, "UA", "C1", "100.1", "https://x.slack.com/p1")
    assert again.at == T0
    with db.session() as s:  # a third share still points at the very first
        third = lib.record_share(s, "T1", a, user_id="UC", channel_id="C3", ts="300.3",
                                 permalink=None, at=T0 + timedelta(days=3))
        assert third is not None and third.ts == "100.1"
        # Another workspace never sees T1's shares; another paper has its own history.
        assert lib.record_share(s, "T2", a, user_id="UZ", channel_id="C1", ts="400.4",
                                permalink=None, at=T0 + timedelta(days=4)) is None
        assert lib.record_share(s, "T1", b, user_id="UA", channel_id="C1", ts="100.1",
                                permalink=None, at=T0) is None
        assert lib.record_share(s, "T1", 10**9, user_id="UA", channel_id="C1", ts="1.1",
                                permalink=None, at=T0) is None
    with db.session() as s:
        assert lib.first_share(s, "T1", a).ts == "100.1"  # type: ignore[union-attr]
        assert lib.library_ids(s, "T1") == [b, a]  # same time: the later arrival first
        assert lib.library_ids(s, "T2") == [a]
        entry = lib.entries(s, "T1", [a])[a]
        assert (entry.user_id, entry.channel_id, entry.how, entry.permalink, entry.at) == (
            "UA", "C1", "link", "https://x.slack.com/p1", T0)


def test_saves_join_the_library_and_unsave_does_not_remove(db: Database) -> None:
    a, b, c, d = _papers(db)
    with db.session() as s:
        lib.record_save(s, "T1", a, user_id="UA", channel_id="C1", at=T0)
        lib.record_share(s, "T1", b, user_id="UB", channel_id="C2", ts="5.5",
                         permalink="https://x/p", at=T0 + timedelta(hours=1))
        lib.record_save(s, "T1", c, user_id="UB", channel_id="D1", at=T0 + timedelta(hours=2))
        # Saving again later (or by someone else) keeps who brought it in first.
        lib.record_save(s, "T1", a, user_id="UC", channel_id="C9", at=T0 + timedelta(hours=3))
        lib.record_save(s, "T2", d, user_id="UX", channel_id="C1", at=T0)
    with db.session() as s:
        page = lib.latest(s, "T1", limit=2, offset=0)
        assert [(e.paper_id, e.how, e.user_id) for e in page] == [(c, "save", "UB"),
                                                                   (b, "link", "UB")]
        rest = lib.latest(s, "T1", limit=2, offset=2)
        assert [(e.paper_id, e.user_id, e.channel_id, e.at) for e in rest] == [
            (a, "UA", "C1", T0)]
        assert lib.latest(s, "T1", limit=2, offset=3) == []
        assert lib.library_ids(s, "T1") == [c, b, a]
        assert lib.library_ids(s, "T2") == [d]
        assert lib.library_ids(s, "T3") == []
    with db.session() as s:  # un-saving leaves the team's library alone
        fb.toggle_save(s, "T1", "UA", "C1", a)
        assert fb.toggle_save(s, "T1", "UA", "C1", a) is False
    with db.session() as s:
        assert lib.library_ids(s, "T1") == [c, b, a]
