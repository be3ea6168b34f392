"""Helpers for the importer tests: fixture files, row counts, generated arXiv snapshots."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from storage.db import Database
from storage.models import Paper
from storage.papers import max_rev

DATA = Path(__file__).parent / "data"


@pytest.fixture
def data() -> Path:
    return DATA


def state(db: Database) -> tuple[int, int, list[tuple[str, int | None]]]:
    """(row count, max rev, every row's key and upvotes): equal before and after = untouched."""
    with db.session() as s:
        n = s.scalar(select(func.count()).select_from(Paper)) or 0
        q = select(Paper.key, Paper.upvotes).order_by(Paper.key)
        rows = [(key, upvotes) for key, upvotes in s.execute(q)]
        return n, max_rev(s), rows


def count_rows(db: Database) -> int:
    return state(db)[0]


def arxiv_line(i: int) -> str:
    """One realistic snapshot line for a generated paper number i (ids 2301.00000 + i)."""
    return json.dumps({
        "id": f"23{i // 100000 + 1:02d}.{i % 100000:05d}",
        "submitter": "Generated Author",
        "authors": f"A. Author{i}, B. Writer and C. Third",
        "title": f"Generated study number {i} of\n  sparse attention",
        "comments": "10 pages",
        "journal-ref": None,
        "doi": None,
        "categories": "cs.LG stat.ML",
        "abstract": f"  We study item {i} and show that\nsparse attention  scales well.\n",
        "versions": [{"version": "v1", "created": "Mon, 2 Jan 2023 10:00:00 GMT"}],
        "update_date": "2023-01-05",
        "authors_parsed": [[f"Author{i}", "A.", ""], ["Writer", "B.", ""], ["Third", "C.", ""]],
    })


def write_arxiv(path: Path, n: int) -> Path:
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            f.write(arxiv_line(i) + "\n")
    return path
