"""A library of one or two papers finds them: rank_bm25's idf is <= 0 for a word in half
the papers or more, and its floor (a fraction of the average idf) is <= 0 too then, so a
team that imports its first paper used to search in vain. Through the real CLI."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from bot.search.index import BM25Index
from bot.search.segments import Doc
from tests.conftest import PAPERBOT

PAPERS = [
    {"id": "2401.00001", "title": "Speculative decoding for large language models",
     "abstract": "We draft tokens with a small model and verify them with a large one.",
     "update_date": "2024-01-02"},
    {"id": "2401.00002", "title": "Diffusion models for language",
     "abstract": "Text generation by iterative denoising of token embeddings.",
     "update_date": "2024-01-03"},
]


def paperbot(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PAPERBOT, *args], env=env, capture_output=True, text=True,
                          timeout=120, check=False)


def search(env: dict[str, str], *words: str) -> list[str]:
    done = paperbot(env, "search", *words, "--json")
    assert done.returncode == 0, done.stderr
    return [r["id"] for r in json.loads(done.stdout)]


@pytest.mark.parametrize("n", [1, 2])
def test_a_tiny_library_finds_its_papers(
    n: int, db_url: str, paperbot_env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "papers.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in PAPERS[:n]), encoding="utf-8")
    done = paperbot(paperbot_env, "import", str(path))
    assert done.returncode == 0, done.stderr
    assert search(paperbot_env, "speculative") == ["2401.00001"]
    assert search(paperbot_env, "decoding", "language") == ["2401.00001", "2401.00002"][:n]
    if n == 2:
        assert search(paperbot_env, "diffusion") == ["2401.00002"]
        # A word in both papers still finds both; the paper with the rarer word ranks first.
        assert search(paperbot_env, "language", "denoising") == ["2401.00002", "2401.00001"]
    text = paperbot(paperbot_env, "search", "speculative")
    assert text.returncode == 0 and "Speculative decoding" in text.stdout, text.stdout


def test_tiny_corpora_score_positive_and_rarer_words_weigh_more() -> None:
    index = BM25Index()
    index.build([Doc(1, ["a", "b"]), Doc(2, ["a", "c"])])
    b, a = index.scores(["b"]), index.scores(["a"])
    assert b[1] > 0 and a[1] > 0 and a[2] > 0
    assert b[1] > a[1]  # "b" is in one paper of two, "a" in both
    index = BM25Index()
    index.build([Doc(7, ["x"])])
    assert index.match(["x"]).paper_ids.tolist() == [7]
