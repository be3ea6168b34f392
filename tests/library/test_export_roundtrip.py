"""`paperbot export --format jsonl` then `paperbot import` into a fresh database, through the
real console script: the same papers come back (titles, abstracts, authors, dates, links,
upvotes, ids, categories, sources), and exporting them again gives the same file."""

from __future__ import annotations

import json
import subprocess
from datetime import date
from pathlib import Path

from sqlalchemy import select

from storage.db import Database
from storage.models import Paper
from storage.papers import PaperRecord, upsert_papers
from tests.conftest import PAPERBOT, make_cli_env

PAPERS = [
    PaperRecord(title="Diffusion caching for 50% faster sampling",
                abstract="Diffusion models cache features.\nTwice.", source="hf",
                authors=("Ada Lovelace", "Kurt Gödel"), arxiv_id="2401.00001",
                published=date(2024, 1, 3), url="https://huggingface.co/papers/2401.00001",
                pdf_url="https://arxiv.org/pdf/2401.00001",
                code_url="https://github.com/x/y_z", upvotes=42, categories="cs.CV cs.LG"),
    PaperRecord(title="Sparse_attention & friends", abstract="Attention, sparse.",
                source="listing"),  # no id, date, url or authors: its link is a title search
    PaperRecord(title="Old physics", abstract="Strings.", source="arxiv",
                authors=("Ed Witten",), arxiv_id="hep-th/9901001", published=date(1999, 1, 4),
                categories="hep-th", upvotes=0),
    PaperRecord(title="A sample paper", abstract="From the bundled corpus.", source="sample"),
]
FIELDS = ("title", "abstract", "authors", "published", "link", "url", "pdf_url", "code_url",
          "upvotes", "arxiv_id", "categories", "source")


def paperbot(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PAPERBOT, *args], env=env, capture_output=True, text=True,
                          timeout=120, check=False)


def snapshot(db: Database) -> list[tuple]:
    with db.session() as s:
        rows = s.execute(select(Paper).order_by(Paper.key)).scalars().all()
        return [tuple(getattr(p, f) for f in FIELDS) for p in rows]


def test_jsonl_export_imports_back_into_a_fresh_database(
    db: Database, db_url: str, tmp_path: Path
) -> None:
    source_db = Database(f"sqlite:///{tmp_path / 'source.db'}")
    source_db.migrate()
    with source_db.session() as s:
        upsert_papers(s, PAPERS)
    before = snapshot(source_db)
    source_db.dispose()

    out = tmp_path / "all.jsonl"
    src_env = make_cli_env(f"sqlite:///{tmp_path / 'source.db'}", tmp_path / "a")
    done = paperbot(src_env, "export", "--format", "jsonl", "-o", str(out))
    assert done.returncode == 0, done.stderr

    env = make_cli_env(db_url, tmp_path / "b")  # the fresh database, on each backend
    done = paperbot(env, "import", str(out))
    assert done.returncode == 0, done.stderr + done.stdout
    assert "added 4" in done.stdout, done.stdout
    assert snapshot(db) == before

    again = paperbot(env, "export", "--format", "jsonl")
    assert again.returncode == 0, again.stderr
    assert again.stdout == out.read_text("utf-8")
    rows = [json.loads(line) for line in again.stdout.splitlines()]
    assert [r["id"] for r in rows] == ["2401.00001", rows[1]["id"], "hep-th/9901001",
                                       rows[3]["id"]]
    assert all(isinstance(r["id"], str) for r in rows)  # public ids, never the row number

    # Importing the same file again changes nothing.
    done = paperbot(env, "import", str(out))
    assert done.returncode == 0 and "added 0, updated 0, unchanged 4" in done.stdout, done.stdout
    # Found by search in the new database.
    found = paperbot(env, "search", "sparse", "attention", "--json")
    assert found.returncode == 0, found.stderr
    assert [r["title"] for r in json.loads(found.stdout)] == ["Sparse_attention & friends"]


def test_an_export_made_before_the_format_marker_imports_too(
    db: Database, db_url: str, tmp_path: Path
) -> None:
    old = tmp_path / "old.jsonl"  # what `paperbot export --format jsonl` wrote until now
    old.write_text(json.dumps({
        "id": 7, "arxiv_id": "2401.00009", "title": "Old export", "authors": ["A B"],
        "published": "2024-01-09", "url": "https://huggingface.co/papers/2401.00009",
        "pdf_url": None, "code_url": None, "categories": "cs.LG", "source": "hf",
        "abstract": "An abstract.",
    }) + "\n", encoding="utf-8")
    done = paperbot(make_cli_env(db_url, tmp_path), "import", str(old))
    assert done.returncode == 0, done.stderr
    assert snapshot(db) == [("Old export", "An abstract.", ["A B"], date(2024, 1, 9),
                             "https://huggingface.co/papers/2401.00009",
                             "https://huggingface.co/papers/2401.00009",
                             "https://arxiv.org/pdf/2401.00009", None, None,
                             "2401.00009", "cs.LG", "hf")]
