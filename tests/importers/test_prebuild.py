"""A large import tokenizes its new papers for the search index while it writes them
(bot.search.workers.Prebuild); the index built afterwards must be exactly the one a build
from scratch makes: same vocabulary and term ids, same postings, same acronyms."""

from __future__ import annotations

import json
import logging
import random
from concurrent.futures import Future
from pathlib import Path

import numpy as np
import pytest

from bot.importers import run
from bot.importers.run import import_paths
from bot.search import engine as engine_module
from bot.search import workers
from bot.search.acronyms import Pair
from bot.search.engine import SearchEngine
from bot.search.segments import Encoded
from storage.db import Database
from storage.papers import PaperRecord, upsert_papers

TEXT = (
    "sparse attention diffusion caching reinforcement learning from human feedback graph "
    "neural operator kernel transformer quantization pruning retrieval augmented agents "
    "benchmark convex bandit latent variational protein folding tokenizer mixture experts"
)
WORDS = tuple(TEXT.split())


def snapshot(path: Path, n: int, seed: int = 0) -> Path:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            words = [*rng.choices(WORDS, k=40), f"term{rng.randrange(3 * n)}"]
            if i % 7 == 0:
                words += ["reinforcement", "learning", "from", "human", "feedback", "(RLHF)."]
            entry = {
                "id": f"2401.{i:05d}",
                "authors": "A. Author and B. Writer",
                "title": " ".join(rng.choices(WORDS, k=6)) + f" {i}",
                "abstract": " ".join(words),
                "categories": "cs.LG",
                "versions": [{"version": "v1", "created": "Mon, 2 Jan 2023 10:00:00 GMT"}],
                "update_date": "2023-01-05",
            }
            f.write(json.dumps(entry) + "\n")
    return path


@pytest.fixture
def small_thresholds(monkeypatch: pytest.MonkeyPatch) -> None:
    """An import of a few hundred papers counts as large; commits of 25 papers."""
    monkeypatch.setattr(run, "BATCH_RECORDS", 25)
    monkeypatch.setattr(engine_module, "PARALLEL_MIN_PAPERS", 50)
    monkeypatch.setattr(engine_module, "CATCH_UP_MAX", 50)


def use_prebuild(monkeypatch: pytest.MonkeyPatch, db: Database) -> workers.Prebuild:
    """The Prebuild the next import makes, with batches of 40 papers."""
    pre = workers.Prebuild(db.url, batch=40)
    monkeypatch.setattr(workers, "Prebuild", lambda *a, **k: pre)
    return pre


def same_index(a: SearchEngine, b: SearchEngine) -> None:
    ia, ib = a._index, b._index
    assert ia is not None and ib is not None
    assert list(ia.vocab) == list(ib.vocab) and ia.sources == ib.sources
    assert len(ia.snapshot.segments) == len(ib.snapshot.segments) == 1
    (sa,), (sb,) = ia.snapshot.segments, ib.snapshot.segments
    for name in (
        "paper_ids", "doc_len", "published", "source", "fingerprints", "indptr", "indices", "tf",
    ):
        x, y = getattr(sa, name), getattr(sb, name)
        assert x.dtype == y.dtype and np.array_equal(x, y), name
    assert np.array_equal(ia.snapshot.df, ib.snapshot.df)
    assert a.acronyms._counts == b.acronyms._counts
    assert list(a.acronyms._counts) == list(b.acronyms._counts)
    for q in ("sparse attention", "RLHF", "term17 diffusion"):
        assert a.search(q, limit=20) == b.search(q, limit=20)


def seed_older_papers(db: Database) -> None:
    """Papers stored before the import: their ids come first, the build reads them."""
    with db.session() as s:
        upsert_papers(
            s,
            [
                PaperRecord(title=f"Older paper {i} on graph kernels", abstract="Kernels (GK).",
                            source="sample")
                for i in range(30)
            ],
        )


@pytest.mark.parametrize("pooled", [False, True])
def test_build_after_a_large_import_equals_a_build_from_scratch(
    db: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    small_thresholds: None,
    pooled: bool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    seed_older_papers(db)
    pre = use_prebuild(monkeypatch, db)
    report = import_paths(db, [snapshot(tmp_path / "a.jsonl", 300)], prebuild_index=True)
    assert report.total.added == 300 and report.prebuilt is pre
    assert pre.sent == 300 and len(pre.batches) == 6  # 2 commits of 25 papers each
    used = SearchEngine(
        db, refresh_interval=None, parallel_min_papers=1 if pooled else 10**9
    )
    with caplog.at_level(logging.INFO, logger="bot.search.engine"):
        used.warm(report.prebuilt)
    assert "300 of 330 papers encoded during the import" in caplog.text
    assert pre.closed and not pre.batches  # its workers stopped once the build used it
    scratch = SearchEngine(db, refresh_interval=None)
    scratch.warm()
    assert used.size == scratch.size == 330
    same_index(used, scratch)


def test_papers_changed_after_the_import_are_read_again(
    db: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    small_thresholds: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    seed_older_papers(db)
    pre = use_prebuild(monkeypatch, db)
    report = import_paths(db, [snapshot(tmp_path / "a.jsonl", 300)], prebuild_index=True)
    assert pre.sent == 300
    with db.session() as s:  # a later, fuller abstract for one paper: its rev moves on
        upsert_papers(
            s,
            [
                PaperRecord(
                    title=f"unused {i}",
                    abstract="A longer abstract than before, about quantum chemistry. " * 20,
                    source="arxiv",
                    arxiv_id=f"2401.{i:05d}",
                )
                for i in (5, 150)
            ],
        )
    used = SearchEngine(db, refresh_interval=None, parallel_min_papers=10**9)
    with caplog.at_level(logging.INFO, logger="bot.search.engine"):
        used.warm(report.prebuilt)
    # the two batches holding a changed paper are encoded again, from what the build reads
    assert "300 of 330 papers encoded during the import" in caplog.text
    scratch = SearchEngine(db, refresh_interval=None)
    scratch.warm()
    same_index(used, scratch)
    assert used.search("quantum chemistry").total == 2


def test_a_lost_batch_falls_back_to_a_full_build(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small_thresholds: None
) -> None:
    pre = use_prebuild(monkeypatch, db)
    report = import_paths(db, [snapshot(tmp_path / "a.jsonl", 200)], prebuild_index=True)
    lost = pre.batches[1]  # as if its worker had died
    pre.batches[1] = workers.Prebuilt(lost.paper_ids, _failed_future())
    used = SearchEngine(db, refresh_interval=None, parallel_min_papers=10**9)
    used.warm(report.prebuilt)
    scratch = SearchEngine(db, refresh_interval=None)
    scratch.warm()
    same_index(used, scratch)


def _failed_future() -> Future[tuple[workers.Versions, Encoded, list[Pair]]]:
    f: Future[tuple[workers.Versions, Encoded, list[Pair]]] = Future()
    f.set_exception(RuntimeError("worker died"))
    return f


def test_small_imports_do_not_prebuild(db: Database, tmp_path: Path) -> None:
    report = import_paths(db, [snapshot(tmp_path / "a.jsonl", 100)], prebuild_index=True)
    assert report.prebuilt is None


def test_only_callers_that_ask_get_a_prebuild(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small_thresholds: None
) -> None:
    """Nobody else would close it: its worker would live as long as the process."""
    report = import_paths(db, [snapshot(tmp_path / "a.jsonl", 300)])
    assert report.prebuilt is None
