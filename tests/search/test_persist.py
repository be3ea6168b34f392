"""The saved index: exact after a restart, and never used when it does not fit."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rank_bm25 import BM25Okapi
from sqlalchemy import delete

from bot.search import SearchEngine, persist
from bot.search.engine import TITLE_WEIGHT
from bot.search.index import BM25Index
from bot.search.segments import Doc
from storage.db import Database
from storage.models import Paper
from storage.papers import PaperRecord, upsert_papers

from .test_bm25_exact import queries, random_corpus


def test_index_is_exact_after_save_and_load(tmp_path: Path) -> None:
    rng = random.Random(7)
    corpus = dict(enumerate(random_corpus(rng, 200), start=1))
    index = BM25Index()
    index.build(Doc(i, t) for i, t in corpus.items())
    changes = {5: ["w1", "w2"], 300: ["w0", "w9"], 301: []}
    index.apply([Doc(i, t) for i, t in changes.items()], remove=[7])  # dead docs get saved too
    corpus.update(changes)
    del corpus[7]
    persist.save(index.state(), tmp_path, db_instance_id="db1", rev=42, title_weight=2)
    loaded, manifest = persist.load(tmp_path, db_instance_id="db1", title_weight=2)
    assert (manifest.rev, manifest.n_docs) == (42, len(corpus))
    ids = sorted(corpus)
    ref = BM25Okapi([corpus[i] for i in ids])
    for q in queries(rng):
        got = loaded.scores(q)
        np.testing.assert_allclose([got[i] for i in ids], ref.get_scores(q), rtol=1e-9)
    loaded.apply([Doc(400, ["w3"])])  # the loaded index keeps working incrementally
    corpus[400] = ["w3"]
    ids = sorted(corpus)
    got = loaded.scores(["w3", "w0"])
    np.testing.assert_allclose(
        [got[i] for i in ids],
        BM25Okapi([corpus[i] for i in ids]).get_scores(["w3", "w0"]),
        rtol=1e-9,
    )


def add(db: Database, *titles: str) -> None:
    with db.session() as s:
        upsert_papers(s, [PaperRecord(title=t, abstract=f"About {t}.", source="x") for t in titles])


WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india"]


@pytest.fixture
def counted_builds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Records every full rebuild, so a test can tell a load from a rebuild."""
    builds: list[int] = []
    real = SearchEngine._build

    def spy(self: SearchEngine, *args: Any, **kwargs: Any) -> int:
        builds.append(1)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(SearchEngine, "_build", spy)
    return builds


def ranked(engine: SearchEngine, q: str) -> list[tuple[int, float]]:
    return [(h.paper_id, h.score) for h in engine.search(q, limit=20).hits]


def test_restart_loads_and_catches_up(
    db: Database, tmp_path: Path, counted_builds: list[int]
) -> None:
    add(db, *[f"Paper on {w} caching" for w in WORDS])
    first = SearchEngine(db, tmp_path / "index")
    first.warm()
    assert counted_builds == [1]
    assert (tmp_path / "index" / persist.MANIFEST).exists()
    add(db, "Caching written while the engine was down")  # rev > saved rev

    second = SearchEngine(db, tmp_path / "index")
    assert second.refresh() == 1  # loaded, then caught up with the one new paper
    assert counted_builds == [1]  # no rebuild
    assert second.search("written").total == 1
    first.refresh()
    assert ranked(second, "caching alpha") == ranked(first, "caching alpha")
    assert second.save()
    third = SearchEngine(db, tmp_path / "index")
    assert ranked(third, "caching alpha") == ranked(first, "caching alpha")
    assert counted_builds == [1]


def _corrupt_truncate(d: Path) -> None:
    data = d / json.loads((d / persist.MANIFEST).read_text())["data_file"]
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])


def _corrupt_flip(d: Path) -> None:
    data = d / json.loads((d / persist.MANIFEST).read_text())["data_file"]
    raw = bytearray(data.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    data.write_bytes(bytes(raw))


def _corrupt_manifest(d: Path) -> None:
    (d / persist.MANIFEST).write_text("{not json")


def _other_database(d: Path) -> None:
    m = json.loads((d / persist.MANIFEST).read_text())
    m["db_instance_id"] = "someone-else"
    (d / persist.MANIFEST).write_text(json.dumps(m))


def _rev_ahead(d: Path) -> None:
    m = json.loads((d / persist.MANIFEST).read_text())
    m["rev"] += 100
    (d / persist.MANIFEST).write_text(json.dumps(m))


def _missing_data(d: Path) -> None:
    (d / json.loads((d / persist.MANIFEST).read_text())["data_file"]).unlink()


@pytest.mark.parametrize(
    "spoil",
    [
        _corrupt_truncate,
        _corrupt_flip,
        _corrupt_manifest,
        _other_database,
        _rev_ahead,
        _missing_data,
    ],
)
def test_unfit_saved_index_is_rebuilt(
    db: Database, tmp_path: Path, counted_builds: list[int], spoil
) -> None:  # type: ignore[no-untyped-def]
    add(db, *[f"Paper on {w}" for w in WORDS])
    d = tmp_path / "index"
    SearchEngine(db, d).warm()
    spoil(d)
    engine = SearchEngine(db, d)
    assert engine.search("charlie").total == 1
    assert counted_builds == [1, 1]
    # the rebuild was saved again and is now loadable
    assert SearchEngine(db, d).search("charlie").total == 1
    assert counted_builds == [1, 1]


def test_tokenizer_change_forces_rebuild(
    db: Database, tmp_path: Path, counted_builds: list[int]
) -> None:
    from bot.search.tokenizer import Tokenizer

    class Revised(Tokenizer):
        version = Tokenizer.version + 1

    add(db, *[f"Paper on {w}" for w in WORDS])
    SearchEngine(db, tmp_path).warm()
    SearchEngine(db, tmp_path, tokenizer=Revised()).warm()
    assert counted_builds == [1, 1]
    manifest = json.loads((tmp_path / persist.MANIFEST).read_text())
    assert manifest["title_weight"] == TITLE_WEIGHT
    assert manifest["tokenizer_version"] == Revised.version


def test_index_holding_papers_the_database_lacks_is_rebuilt(
    db: Database, tmp_path: Path, counted_builds: list[int]
) -> None:
    add(db, *[f"Paper on {w}" for w in WORDS])
    SearchEngine(db, tmp_path).warm()
    with db.session() as s:  # e.g. the database was restored from an older backup
        s.execute(delete(Paper).where(Paper.title == "Paper on india"))
    engine = SearchEngine(db, tmp_path)
    assert engine.search("india").total == 0
    assert engine.search("hotel").total == 1
    assert counted_builds == [1, 1]


def test_engine_scores_equal_bm25okapi_after_restart(db: Database, tmp_path: Path) -> None:
    from rank_bm25 import BM25Okapi

    from bot.search.engine import paper_tokens, query_tokens
    from storage.papers import iter_index_rows

    from .test_engine import sample_records

    records = sample_records()
    with db.session() as s:
        upsert_papers(s, records[:400])
    SearchEngine(db, tmp_path).warm()  # build + save
    with db.session() as s:
        upsert_papers(s, records[400:])  # caught up after the restart
    engine = SearchEngine(db, tmp_path)
    with db.session() as s:
        rows = list(iter_index_rows(s))
    ref = BM25Okapi([paper_tokens(r.title, r.abstract) for r in rows])
    pos = {r.id: i for i, r in enumerate(rows)}
    for q in ("diffusion caching", "LLMs reasoning reasoning", "GPT-4", "model", "3D scenes"):
        page = engine.search(q, limit=50)
        expected = ref.get_scores(query_tokens(q))  # with repeats, as the engine scores
        assert page.total == int((expected > 0).sum())
        for hit in page.hits:
            assert hit.score == pytest.approx(expected[pos[hit.paper_id]], rel=1e-9)
        best = np.sort(expected)[::-1][: len(page.hits)]
        np.testing.assert_allclose([h.score for h in page.hits], best, rtol=1e-9)


def test_many_new_papers_rebuild_instead_of_catching_up(
    db: Database, tmp_path: Path, counted_builds: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.search import engine

    add(db, *[f"Paper on {w} caching" for w in WORDS])
    SearchEngine(db, tmp_path / "index").warm()
    assert counted_builds == [1]
    monkeypatch.setattr(engine, "CATCH_UP_MAX", 3)
    add(db, *[f"Later paper on {w} {w} retrieval" for w in WORDS[:4]])  # 4 > max(3, 9 // 4)
    second = SearchEngine(db, tmp_path / "index")
    assert second.refresh() == len(WORDS) + 4
    assert counted_builds == [1, 1]  # rebuilt (and saved) instead of a catch-up
    assert second.unsaved == 0
    fresh = SearchEngine(db)
    assert ranked(second, "caching retrieval") == ranked(fresh, "caching retrieval")
    add(db, "One more caching paper")  # a few new papers are still caught up
    third = SearchEngine(db, tmp_path / "index")
    assert third.refresh() == 1
    assert counted_builds == [1, 1, 1]  # `fresh` built; `third` loaded and caught up


def test_ensure_saved_rebuilds_a_missing_index_and_leaves_a_current_one(
    db: Database, tmp_path: Path, counted_builds: list[int]
) -> None:
    import shutil

    add(db, *[f"Paper on {w}" for w in WORDS])
    d = tmp_path / "index"
    assert SearchEngine(db, d, refresh_interval=None).ensure_saved()  # built and saved
    assert counted_builds == [1]
    current = SearchEngine(db, d, refresh_interval=None)
    assert not current.ensure_saved()  # current: recognized from the manifest alone
    assert current._index is None and counted_builds == [1]

    shutil.rmtree(d)  # e.g. the import was killed before the index was saved
    assert SearchEngine(db, d, refresh_interval=None).ensure_saved()
    assert (d / persist.MANIFEST).exists() and counted_builds == [1, 1]

    add(db, "Paper on juliett")  # stale: loaded, caught up and saved, not rebuilt
    assert SearchEngine(db, d, refresh_interval=None).ensure_saved()
    assert counted_builds == [1, 1]
    assert json.loads((d / persist.MANIFEST).read_text())["n_docs"] == len(WORDS) + 1
    assert not SearchEngine(db, d, refresh_interval=None).ensure_saved()

    live = SearchEngine(db, d, refresh_interval=None)
    live.warm()
    shutil.rmtree(d)  # removed under a running engine: written again from memory
    assert live.ensure_saved() and (d / persist.MANIFEST).exists()
    assert counted_builds == [1, 1]
    assert SearchEngine(db, d).search("juliett").total == 1
