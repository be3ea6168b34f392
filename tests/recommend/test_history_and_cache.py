"""Issue 17: the recommender learns from the newest signals, and its caches never answer for
a library that has changed (a freed snapshot's id() is reused by a later one)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from bot.recommend import Signal, more_like_this
from bot.recommend.model import MAX_SIGNAL_PAPERS, build_profile
from bot.services import Services
from storage import feedback as fb
from storage.models import Paper
from storage.papers import PaperRecord
from tests.recommend.conftest import add_papers, make_services

Library = tuple[Services, list[int]]


def test_a_long_history_keeps_the_newest_signals_not_the_highest_paper_ids(
    library: Library,
) -> None:
    """MAX_SIGNAL_PAPERS + 1 saves, the highest paper id first and the lowest last: the
    profile keeps the newest save and drops the oldest one."""
    svc, _ = library
    with svc.db.session() as s:
        ids = list(s.execute(
            select(Paper.id).order_by(Paper.id).limit(MAX_SIGNAL_PAPERS + 1)).scalars())
    assert len(ids) == MAX_SIGNAL_PAPERS + 1
    newest, oldest = ids[0], ids[-1]
    with svc.db.session() as s:
        for pid in reversed(ids):
            assert fb.toggle_save(s, "T0HISTORY", "U0ALICE", "C0GENERAL", pid) is True
    with svc.db.session() as s:
        signals = [Signal(p, w) for p, w in fb.signals(s, "T0HISTORY", user_id="U0ALICE")]
    profile = build_profile(svc, signals)
    assert profile is not None
    kept = {pid for pid, _title, _vec in profile.positives}
    assert len(kept) == MAX_SIGNAL_PAPERS
    assert newest in kept and oldest not in kept


def _word(i: int) -> str:
    """A made-up word per round (letters only, so the tokenizer keeps it whole). Shared
    words weigh the same, and ties go to the first name: a later round's word sorts first,
    so it is always among the query's MLT_TERMS."""
    return "zq" + "".join(chr(ord("a") + int(d)) for d in f"{999 - i:03d}") + "vex"


def test_more_like_this_follows_every_change_of_the_library(tmp_path: Path) -> None:
    """Each round adds a paper sharing one more word with the anchor paper: a word two
    papers share enters the anchor's more-like-this query, so the new paper must be found.
    A cache keyed by id(snapshot) answered with an old round's query whenever Python gave
    the new snapshot a freed one's address (a few rounds in a hundred)."""
    rounds = 120
    svc = make_services(tmp_path / "home", seed=False)
    try:
        add_papers(svc, [PaperRecord(f"Filler {w}", f"About {w} only.", "test") for w in (
            "tax law", "bird song", "crop yields", "glacier melt", "jazz", "tides",
            "bridges", "coffee", "chess openings", "volcanoes")])
        words = " ".join(_word(i) for i in range(rounds))
        [anchor] = add_papers(svc, [PaperRecord("Anchor", f"Anchor text {words}.", "test")])
        seen_ids: set[int] = set()
        reused = 0
        for i in range(rounds):
            [new] = add_papers(svc, [PaperRecord(f"Note {i}", f"A note on {_word(i)}.",
                                                 "test")])
            snap = id(svc.search.index.snapshot)
            reused += snap in seen_ids
            seen_ids.add(snap)
            found = {p.paper_id for p in more_like_this(svc, anchor, limit=rounds + 5)}
            assert new in found, (i, reused)
    finally:
        svc.close()
