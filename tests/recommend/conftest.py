"""A PaperBot with the bundled sample plus papers it has never seen, and small dated libraries."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import Config
from bot.services import Services
from storage.papers import PaperRecord, upsert_papers

UNSEEN = Path(__file__).parent / "data" / "unseen_speculative_decoding.jsonl"


def make_services(home: Path, db_url: str | None = None, *, seed: bool) -> Services:
    env = {"PAPERBOT_HOME": str(home), "PAPERBOT_SCHEDULER": "0"}
    if db_url:
        env["DATABASE_URL"] = db_url
    return Services.create(Config.from_env(env), seed=seed)


def add_papers(svc: Services, records: list[PaperRecord]) -> list[int]:
    """Store papers through the real ingest path and make them searchable; their ids."""
    with svc.db.session() as s:
        ids = upsert_papers(s, records).changed_ids
    svc.search.refresh()
    return ids


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Services, list[int]]]:
    """The 549 sample papers plus 8 unseen papers on speculative decoding (their ids)."""
    svc = make_services(tmp_path_factory.mktemp("reco") / "home", seed=True)
    rows = [json.loads(line) for line in UNSEEN.read_text(encoding="utf-8").splitlines()]
    ids = add_papers(svc, [PaperRecord(r["title"], r["abstract"], "test") for r in rows])
    assert len(ids) == len(rows)
    yield svc, ids
    svc.close()
