"""SearchEngine against a real migrated database (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from bot.search import QueryError, SearchEngine
from storage.db import Database
from storage.papers import PaperRecord, get_papers, upsert_papers

SAMPLE = Path(__file__).resolve().parents[2] / "bot" / "data" / "sample_papers.jsonl"


def sample_records() -> list[PaperRecord]:
    with SAMPLE.open(encoding="utf-8") as f:
        return [
            PaperRecord(title=j["title"], abstract=j["abstract"], source="sample")
            for j in map(json.loads, f)
        ]


def add(db: Database, *records: PaperRecord) -> list[int]:
    with db.session() as s:
        return upsert_papers(s, records).changed_ids


def titles(db: Database, ids: list[int]) -> list[str]:
    with db.session() as s:
        return [p.title for p in get_papers(s, ids)]


FILLER = [
    PaperRecord(title=f"Filler paper {w}", abstract=f"About {w}.", source="filler")
    for w in ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel")
]


def add_filler(db: Database) -> None:
    """BM25Okapi gives terms in half of a tiny corpus idf <= 0 (no hits); pad the corpus."""
    add(db, *FILLER)


@pytest.fixture
def seeded(db: Database) -> Database:
    add(db, *sample_records())
    return db


def test_diffusion_caching_ranks_feature_caching_papers_first(seeded: Database) -> None:
    engine = SearchEngine(seeded)
    page = engine.search("diffusion caching", limit=5)
    assert page.terms == ("diffus", "cach")
    top = titles(seeded, [h.paper_id for h in page.hits])
    assert len(top) == 5
    for title in top:
        low = title.lower()
        assert "diffusion" in low and "cach" in low, top
    assert page.total > 5


def test_pages_are_consistent_and_only_positive_hits(seeded: Database) -> None:
    engine = SearchEngine(seeded)
    first = engine.search("language model reasoning", limit=7)
    second = engine.search("language model reasoning", limit=7, offset=7)
    both = engine.search("language model reasoning", limit=14)
    assert [h.paper_id for h in first.hits + second.hits] == [h.paper_id for h in both.hits]
    assert first.total == second.total == both.total >= 14
    scores = [h.score for h in both.hits]
    assert scores == sorted(scores, reverse=True) and scores[-1] > 0
    last = engine.search("language model reasoning", limit=10, offset=both.total - 3)
    assert len(last.hits) == 3
    assert engine.search("zzqxv nonexistentword", limit=5).hits == ()


def test_query_errors_are_user_facing(db: Database) -> None:
    engine = SearchEngine(db)
    for bad in ("", "   ", "the of and", "x" * 10_000):
        with pytest.raises(QueryError) as err:
            engine.search(bad)
        assert str(err.value) and "Traceback" not in str(err.value)
    with pytest.raises(QueryError, match="limit is 500"):
        engine.search("word " * 2000)
    with pytest.raises(QueryError, match="common words"):
        engine.search("the of and")
    with pytest.raises(QueryError):
        engine.search("cache", limit=0)
    with pytest.raises(QueryError):
        engine.search("cache", since=date(2024, 2, 1), until=date(2024, 1, 1))
    assert engine.search("cache").hits == ()  # empty database: no hits, no error


def test_filters_by_date_and_source(db: Database) -> None:
    add_filler(db)
    add(
        db,
        PaperRecord(title="Cache one", abstract="", source="arxiv", published=date(2024, 1, 5)),
        PaperRecord(title="Cache two", abstract="", source="hf", published=date(2024, 3, 1)),
        PaperRecord(title="Cache three", abstract="", source="arxiv"),
    )
    engine = SearchEngine(db)

    def found(**kw: object) -> list[str]:
        page = engine.search("cache", **kw)  # type: ignore[arg-type]
        assert page.total == len(page.hits)
        return sorted(titles(db, [h.paper_id for h in page.hits]))

    assert found() == ["Cache one", "Cache three", "Cache two"]
    assert found(since=date(2024, 2, 1)) == ["Cache two"]
    assert found(until=date(2024, 2, 1)) == ["Cache one"]
    assert found(source="arxiv") == ["Cache one", "Cache three"]
    assert found(source="nowhere") == []


def test_local_writes_visible_after_refresh_and_replacements_drop_old_text(db: Database) -> None:
    add_filler(db)
    add(db, PaperRecord(title="Quantum annealing", abstract="", source="x", arxiv_id="2401.00001"))
    engine = SearchEngine(db, refresh_interval=None)  # only explicit refreshes
    engine.warm()
    [pid] = add(db, PaperRecord(title="Sparse attention", abstract="", source="x"))
    assert engine.search("sparse attention").hits == ()  # no refresher: not looked yet
    assert engine.refresh() == 1
    assert [h.paper_id for h in engine.search("sparse attention").hits] == [pid]
    # the arXiv id matches, the title was revised: the old words must stop matching
    add(db, PaperRecord(title="Quantum tunnelling", abstract="", source="x", arxiv_id="2401.00001"))
    assert engine.refresh() == 1
    assert engine.search("annealing").hits == ()
    assert len(engine.search("quantum").hits) == 1
    assert engine.refresh() == 0
    assert engine.size == 2 + len(FILLER)


def wait_for(check: Callable[[], bool], timeout: float = 15.0) -> None:
    """Poll `check` until it holds (the background refresher runs on its own schedule)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not true within {timeout} s"
        time.sleep(0.02)


def test_other_process_writes_seen_without_rebuild(db: Database) -> None:
    add_filler(db)
    add(db, PaperRecord(title="Graph embeddings", abstract="", source="x"))
    engine = SearchEngine(db, refresh_interval=0.05)
    engine.warm()
    index_before = engine._index
    code = (
        "import sys\n"
        "from storage.db import Database\n"
        "from storage.papers import PaperRecord, upsert_papers\n"
        "db = Database(sys.argv[1])\n"
        "with db.session() as s:\n"
        "    upsert_papers(s, [PaperRecord(title='Holographic graph codes', abstract='Walks.',"
        " source='y')])\n"
    )
    subprocess.run([sys.executable, "-c", code, db.url], check=True, timeout=60)
    wait_for(lambda: engine.search("holographic").total == 1)
    page = engine.search("holographic")
    assert titles(db, [h.paper_id for h in page.hits]) == ["Holographic graph codes"]
    assert engine.search("graph").total == 2
    assert engine._index is index_before  # caught up incrementally, not rebuilt
    engine.close()


def test_two_engines_on_one_database_see_each_others_papers(db_url: str) -> None:
    """Replicas sharing a database: each one's background refresher picks up the other's
    writes, with no explicit refresh and no search needed to trigger it."""
    a_db, b_db = Database(db_url), Database(db_url)
    a_db.migrate()
    a, b = SearchEngine(a_db, refresh_interval=0.05), SearchEngine(b_db, refresh_interval=0.05)
    try:
        add_filler(a_db)
        a.warm()
        b.warm()
        add(a_db, PaperRecord(title="Written by replica A", abstract="", source="x"))
        add(b_db, PaperRecord(title="Written by replica B", abstract="", source="x"))
        for engine in (a, b):
            wait_for(lambda e=engine: e.size == len(FILLER) + 2)  # type: ignore[misc]
            assert engine.search("replica").total == 2
    finally:
        a.close()
        b.close()
        a_db.dispose()
        b_db.dispose()


def test_concurrent_searches_during_refreshes(db: Database) -> None:
    add_filler(db)
    engine = SearchEngine(db, refresh_interval=0.01)  # background catch-ups race explicit ones
    engine.warm()
    errors: list[BaseException] = []
    stop = threading.Event()
    seen: list[list[int]] = []

    def searcher() -> None:
        mine: list[int] = []
        seen.append(mine)
        try:
            while not stop.is_set():
                page = engine.search("concurrent widget", limit=5)
                assert all(h.score > 0 for h in page.hits)
                assert len(page.hits) == min(page.total, 5)
                assert len({h.paper_id for h in page.hits}) == len(page.hits)
                mine.append(page.total)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=searcher) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for i in range(15):
            add(db, PaperRecord(title=f"Concurrent widget {i}", abstract="x", source="x"))
            engine.refresh()
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    assert not errors, errors
    assert engine.search("concurrent widget", limit=20).total == 15
    # (totals need not grow: with 16 papers, "widget" sits in exactly half and BM25Okapi's
    # idf is 0, so that state has no hits at all)
    assert all(0 <= t <= 15 for totals in seen for t in totals)
    assert sum(map(len, seen)) > 0
    engine.close()


def test_search_serves_the_index_when_catch_up_fails(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import OperationalError

    from storage import papers

    add_filler(db)
    engine = SearchEngine(db, refresh_interval=0.01)
    engine.warm()

    def down(_session: object) -> int:
        raise OperationalError("SELECT max(rev)", {}, Exception("connection refused"))

    monkeypatch.setattr(papers, "max_rev", down)
    time.sleep(0.1)  # the background refresher fails several times meanwhile (logged once)
    assert engine.search("alpha").total == 1  # answered from memory
    with pytest.raises(OperationalError):
        engine.refresh()  # an explicit refresh reports the problem
    monkeypatch.undo()
    add(db, PaperRecord(title="Back online", abstract="", source="x"))
    wait_for(lambda: engine.search("online").total == 1)  # the refresher recovered
    engine.close()


def test_metadata_only_updates_are_skipped(db: Database) -> None:
    add_filler(db)
    add(db, PaperRecord(title="Votes", abstract="Counting.", source="hf", upvotes=1))
    engine = SearchEngine(db, refresh_interval=None)
    engine.warm()
    rev = engine.last_rev
    add(db, PaperRecord(title="Votes", abstract="Counting.", source="hf", upvotes=50))
    assert engine.refresh() == 0  # rev moved, the indexed text did not
    assert engine.last_rev > rev
    assert engine.search("votes").total == 1


def test_build_in_worker_processes_equals_an_in_process_build(
    seeded: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Large builds tokenize in worker processes; the index is the same, ids included."""
    from bot.search import segments

    monkeypatch.setattr(segments, "BUILD_BATCH", 37)  # many batches, several in flight
    local = SearchEngine(seeded)
    local.warm()
    calls: list[int | None] = []
    real = SearchEngine._build_in_workers

    def spy(self: SearchEngine, *args: object) -> int | None:
        calls.append(real(self, *args))  # type: ignore[arg-type]
        return calls[-1]

    monkeypatch.setattr(SearchEngine, "_build_in_workers", spy)
    pooled = SearchEngine(seeded, parallel_min_papers=1)
    pooled.warm()
    assert calls and calls[0] == local.size
    a, b = local._index, pooled._index
    assert a is not None and b is not None
    assert a.vocab == b.vocab and a.sources == b.sources
    (sa,), (sb,) = a.snapshot.segments, b.snapshot.segments
    for name in ("paper_ids", "doc_len", "published", "source", "fingerprints"):
        assert (getattr(sa, name) == getattr(sb, name)).all(), name
    for name in ("indptr", "indices", "tf"):
        assert (getattr(sa, name) == getattr(sb, name)).all(), name
    for q in ("diffusion caching", "LLMs", "GPT-4 reasoning"):
        assert local.search(q, limit=20) == pooled.search(q, limit=20)


def test_searches_never_catch_up_themselves(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """Catch-ups run on the background refresher, never on the thread asking a question."""
    from bot.search.index import BM25Index

    add_filler(db)
    engine = SearchEngine(db, refresh_interval=0.02)
    engine.warm()
    applied_in: list[str] = []
    real_apply = BM25Index.apply

    def recording_apply(self: BM25Index, *args: object, **kw: object) -> int:
        applied_in.append(threading.current_thread().name)
        return real_apply(self, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(BM25Index, "apply", recording_apply)
    for i in range(5):
        add(db, PaperRecord(title=f"Background widget {i}", abstract="", source="x"))
        engine.search("widget")  # serves the snapshot of the moment
        time.sleep(0.03)
    wait_for(lambda: engine.search("widget").total == 5)
    assert applied_in and set(applied_in) == {"search-refresh"}, applied_in
    engine.close()


def test_close_stops_the_refresher_and_explicit_refresh_still_works(db: Database) -> None:
    add_filler(db)
    engine = SearchEngine(db, refresh_interval=0.02)
    engine.warm()
    refresher = engine._refresher
    assert refresher is not None and refresher.is_alive()
    engine.close()
    assert not refresher.is_alive()
    add(db, PaperRecord(title="After close", abstract="", source="x"))
    time.sleep(0.1)
    assert engine.search("close").total == 0  # nobody catches up any more
    assert engine.refresh() == 1
    assert engine.search("close").total == 1
    engine.close()  # closing twice is fine


def test_an_engine_dropped_without_close_stops_its_refresher(db: Database) -> None:
    import gc

    add_filler(db)
    engine = SearchEngine(db, refresh_interval=0.02)
    engine.warm()
    refresher = engine._refresher
    assert refresher is not None
    del engine
    gc.collect()
    wait_for(lambda: not refresher.is_alive(), timeout=5)


def test_tokenizer_is_injectable(db: Database) -> None:
    from bot.search.tokenizer import Tokenizer

    class Unstemmed(Tokenizer):
        version = 99

        def _stem(self, word: str) -> str:
            return word

    add_filler(db)
    add(db, PaperRecord(title="Caching layers", abstract="", source="x"))
    plain = SearchEngine(db, refresh_interval=None, tokenizer=Unstemmed())
    assert plain.search("caching").total == 1
    assert plain.search("cache").total == 0  # no stemming: "cache" no longer meets "caching"
    assert SearchEngine(db, refresh_interval=None).search("cache").total == 1
