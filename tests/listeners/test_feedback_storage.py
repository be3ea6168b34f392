"""Feedback storage on both backends: idempotent writes, take-backs, per-workspace reads."""

from __future__ import annotations

import pytest

from storage import feedback as fb
from storage.db import Database
from storage.papers import PaperRecord, upsert_papers


def _papers(db: Database, n: int = 3) -> list[int]:
    with db.session() as s:
        upsert_papers(s, [PaperRecord(title=f"Paper {i} on zebra caching",
                                      abstract=f"Abstract {i}.", source="test")
                          for i in range(n)])
    with db.session() as s:
        from sqlalchemy import select

        from storage.models import Paper
        return list(s.execute(select(Paper.id).order_by(Paper.id)).scalars())


def test_signals_are_idempotent_reversible_and_per_workspace(db: Database) -> None:
    a, b, c = _papers(db)
    with db.session() as s:
        assert fb.toggle_save(s, "T1", "UA", "C1", a) is True
        assert fb.add_reaction(s, "T1", "UB", "C1", b, "fire", 1) is True
        assert fb.add_reaction(s, "T1", "UB", "C1", b, "fire", 1) is False  # a retry
        assert fb.add_reaction(s, "T1", "UB", "C1", c, "-1", -1) is True
        assert fb.set_hide(s, "T1", "UA", "C2", c) is True
        assert fb.toggle_save(s, "T1", "UA", "C9", 10**9) is None
        fb.remember_message(s, "T1", "C1", "1.000100", a, "digest")
        fb.remember_message(s, "T1", "C1", "1.000100", a, "digest")
    with db.session() as s:
        assert fb.signals(s, "T1", user_id="UA") == [(a, 1.0), (c, -1.0)]
        assert fb.signals(s, "T1", channel_id="C1") == [(a, 1.0), (b, 1.0), (c, -1.0)]
        assert fb.signals(s, "T1", channel_id="C2") == [(c, -1.0)]
        assert fb.saved_ids(s, "T1", "UA") == [a]
        assert fb.saved_ids(s, "T1", "UB") == []
        assert fb.hidden_ids(s, "T1", "UA") == {c}
        assert fb.paper_for_message(s, "T1", "C1", "1.000100") == a
        assert fb.paper_for_message(s, "T2", "C1", "1.000100") is None
        assert fb.signals(s, "T2", user_id="UA") == []
        assert fb.saved_ids(s, "T2", "UA") == []
    with db.session() as s:
        assert fb.toggle_save(s, "T1", "UA", "C1", a) is False
        assert fb.remove_reaction(s, "T1", "UB", "C1", b, "fire") is True
        assert fb.remove_reaction(s, "T1", "UB", "C1", b, "fire") is False
        assert fb.set_hide(s, "T1", "UA", "C2", c, False) is False
    with db.session() as s:
        assert fb.saved_ids(s, "T1", "UA") == []
        assert fb.signals(s, "T1", channel_id="C1") == [(c, -1.0)]
        assert fb.hidden_ids(s, "T1", "UA") == set()


def test_concurrent_toggles_of_one_save_cancel_out(db: Database) -> None:
    """Two sessions toggling one user's save at the same moment: saved, then un-saved."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    [a] = _papers(db, 1)
    users = [f"U{i:03d}" for i in range(30)]
    for user in users:
        start = threading.Barrier(2)

        def toggle(_: int, user: str = user, start: threading.Barrier = start) -> bool | None:
            with db.session() as s:
                start.wait(10)
                return fb.toggle_save(s, "T1", user, "C1", a)

        with ThreadPoolExecutor(2) as pool:
            states = sorted(pool.map(toggle, range(2)), key=str)
        assert states == [False, True], (user, states)
    with db.session() as s:
        assert [u for u in users if fb.saved_ids(s, "T1", u)] == []


def test_save_clears_not_for_us_and_not_for_us_clears_save(db: Database) -> None:
    """A paper is saved or hidden, never both: the two would cancel in the recommender."""
    a, b = _papers(db, 2)
    with db.session() as s:
        assert fb.set_hide(s, "T1", "UA", "C1", a) is True
        assert fb.toggle_save(s, "T1", "UA", "C1", a) is True
    with db.session() as s:
        assert fb.saved_ids(s, "T1", "UA") == [a]
        assert fb.hidden_ids(s, "T1", "UA") == set()
        assert fb.signals(s, "T1", user_id="UA") == [(a, 1.0)]
    with db.session() as s:
        assert fb.toggle_save(s, "T1", "UA", "C1", b) is True
        assert fb.set_hide(s, "T1", "UA", "C2", b) is True
    with db.session() as s:
        assert fb.saved_ids(s, "T1", "UA") == [a]
        assert fb.hidden_ids(s, "T1", "UA") == {b}
        assert fb.signals(s, "T1", user_id="UA") == [(a, 1.0), (b, -1.0)]


def test_signals_come_oldest_first_by_time_not_by_paper_id(db: Database) -> None:
    """The recommender keeps the papers of the newest signals: the order must be by time."""
    a, b, c = _papers(db)
    with db.session() as s:
        fb.toggle_save(s, "T1", "UA", "C1", c)
    with db.session() as s:
        fb.add_reaction(s, "T1", "UA", "C1", a, "fire", 1)
    with db.session() as s:
        fb.set_hide(s, "T1", "UA", "C1", b)
    with db.session() as s:
        assert fb.signals(s, "T1", user_id="UA") == [(c, 1.0), (a, 1.0), (b, -1.0)]
        assert fb.signals(s, "T1", channel_id="C1") == [(c, 1.0), (a, 1.0), (b, -1.0)]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_click_looks_up_one_users_paper_by_index_however_many_saves_they_have(
    db: Database,
) -> None:
    """A toggle's statements are the same few whatever the user saved before, and each
    reads the user's rows on that one paper through an index (SQLite's plan), not every
    signal the user ever gave."""
    from sqlalchemy import event

    ids = _papers(db, 301)
    statements: list[tuple[str, object]] = []

    def seen(conn, cursor, statement, params, context, executemany) -> None:
        statements.append((statement, params))

    def toggle(pid: int) -> list[tuple[str, object]]:
        statements.clear()
        event.listen(db.engine, "before_cursor_execute", seen)
        try:
            with db.session() as s:
                fb.toggle_save(s, "T1", "UA", "C1", pid)
        finally:
            event.remove(db.engine, "before_cursor_execute", seen)
        return list(statements)

    first = toggle(ids[0])
    with db.session() as s:
        for pid in ids[1:300]:
            fb.toggle_save(s, "T1", "UA", "C1", pid)
    later = toggle(ids[300])
    assert len(later) == len(first)
    feedback_reads = [(q, p) for q, p in later
                      if "FROM feedback" in q and not q.lstrip().upper().startswith("INSERT")]
    assert feedback_reads
    with db.engine.connect() as conn:
        for q, p in feedback_reads:
            plan = " ".join(str(r[-1]) for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {q}", p))
            assert "paper_id=?" in plan, (q, plan)
