"""The bundled sample corpus, loaded into an empty database so a first search finds papers.

The data file (bot/data/sample_papers.jsonl, one {"title", "abstract"} per line) is
regenerated from the team's seed listings by scripts/build_sample_corpus.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib import resources

from bot.importers.records import get_str, make_record, need_object
from storage.db import Database, lock_writes
from storage.papers import PaperRecord, count_papers, upsert_papers

SOURCE = "sample"
DATA_FILE = "sample_papers.jsonl"


def sample_records() -> Iterator[PaperRecord]:
    """The bundled papers (a broken data file is a packaging bug: it raises loudly)."""
    ref = resources.files("bot").joinpath("data", DATA_FILE)
    with ref.open("r", encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                entry = need_object(json.loads(line), "the entry")
                yield make_record(
                    title=get_str(entry, "title", ""),
                    abstract=get_str(entry, "abstract", "", required=False) or "",
                    source=SOURCE,
                )
            except ValueError as exc:  # JSONDecodeError and RecordError are ValueErrors
                raise RuntimeError(f"bundled {DATA_FILE} line {n}: {exc}") from exc


def seed_sample_corpus(db: Database) -> int:
    """Load the sample corpus if the papers table is empty; how many papers were added.

    Safe when several processes start at once: the check and the insert run in one
    transaction under the writers' lock, so only the first one seeds.
    """
    with db.session() as s:
        if count_papers(s):  # the common case: no lock taken
            return 0
    with db.session() as s:
        lock_writes(s)  # before reading again, so the count below is current
        if count_papers(s):
            return 0
        return upsert_papers(s, sample_records()).added
