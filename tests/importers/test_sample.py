"""The bundled sample corpus: seeded once into an empty database, even by racing processes,
and regenerated from listings by scripts/build_sample_corpus.py."""

from __future__ import annotations

import importlib.util
import json
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.importers.run import import_paths
from bot.importers.sample import sample_records, seed_sample_corpus
from storage.db import Database
from storage.models import Paper
from tests.importers.conftest import count_rows, state

ROOT = Path(__file__).resolve().parents[2]


def test_bundled_corpus_is_549_distinct_papers() -> None:
    records = list(sample_records())
    assert len(records) == 549
    assert len({r.title_key for r in records}) == 549
    assert all(r.source == "sample" and r.abstract for r in records)


def test_seeds_an_empty_database_once(db: Database) -> None:
    assert seed_sample_corpus(db) == 549
    before = state(db)
    assert seed_sample_corpus(db) == 0
    assert state(db) == before
    with db.session() as s:
        assert s.scalar(select(func.count()).where(Paper.source == "sample")) == 549


def test_does_not_seed_a_database_with_papers(db: Database, data: Path) -> None:
    import_paths(db, [data / "arxiv_snapshot.jsonl"])
    assert seed_sample_corpus(db) == 0
    assert count_rows(db) == 3


def test_racing_starters_seed_once(db_url: str, db: Database) -> None:
    """Two processes' worth of engines seeding the same empty database at the same moment."""
    dbs = [Database(db_url) for _ in range(3)]
    start = threading.Barrier(len(dbs))
    added: list[int] = []
    errors: list[BaseException] = []

    def seed(d: Database) -> None:
        try:
            start.wait()
            added.append(seed_sample_corpus(d))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=seed, args=(d,)) for d in dbs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for d in dbs:
        d.dispose()
    assert errors == []
    assert sorted(added) == [0, 0, 549]
    assert count_rows(db) == 549


@pytest.fixture
def build_script(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "build_sample_corpus", ROOT / "scripts" / "build_sample_corpus.py"
    )
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    monkeypatch.setattr(module, "OUT", tmp_path / "out" / "sample_papers.jsonl")
    return module


def test_build_script_dedupes_listings(build_script, data: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for name in ("listing_subscribe_glued.txt", "listing_daily_papers.txt"):
        (seeds / name).write_bytes((data / name).read_bytes())
    # A second day's page repeating one paper: it is written once.
    (seeds / "z_repeat.txt").write_bytes((data / "listing_daily_papers.txt").read_bytes())
    assert build_script.main([str(seeds)]) == 0
    rows = [json.loads(x) for x in build_script.OUT.read_text(encoding="utf-8").splitlines()]
    assert [r["title"] for r in rows] == [  # files in name order, first sighting kept
        "Thyme: Think Beyond Images",
        "ADEM-VL: Adaptive and Embedded Fusion for Efficient Vision-Language Tuning",
        "Scaling Properties of Diffusion Models for Perceptual Tasks",
        "Fast and Accurate Network Embeddings via Very Sparse Random Projection",
        "Cooperative Graph Neural Networks",
        "Scaling Latent Reasoning via Looped Language Models",
    ]
    assert set(rows[0]) == {"title", "abstract"}


def test_build_script_refuses_a_broken_listing(  # type: ignore[no-untyped-def]
    build_script, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "a.txt").write_text("Subscribe\nA Title Without Its Abstract\n")
    assert build_script.main([str(seeds)]) == 1
    assert "a.txt line 2: title with no abstract" in capsys.readouterr().err
    assert not build_script.OUT.exists()
