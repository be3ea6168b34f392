"""Feedback storage on both backends: idempotent writes, take-backs, per-workspace reads."""

from __future__ import annotations

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
