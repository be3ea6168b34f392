"""`paperbot export` through bot.cli.main: BibTeX and JSONL files of the stored papers."""

from __future__ import annotations

import json
from pathlib import Path

import bibtexparser
import pytest

from bot.cli import main
from storage.db import Database
from storage.papers import PaperRecord, upsert_papers
from tests.conftest import make_cli_env

PAPERS = [
    PaperRecord(title="Diffusion caching for 50% faster sampling", abstract="Diffusion models "
                "cache features.", source="test", authors=("Ada Lovelace", "Kurt Gödel"),
                arxiv_id="2401.00001", categories="cs.CV cs.LG"),
    PaperRecord(title="Sparse_attention & friends", abstract="Attention, sparse.",
                source="test", authors=("Alan Turing",)),
    PaperRecord(title="Latent diffusion revisited", abstract="Another diffusion paper.",
                source="test", authors=("Grace Hopper",)),
]


@pytest.fixture
def env(db: Database, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with db.session() as s:
        upsert_papers(s, PAPERS)
    for key, value in make_cli_env(db_url, tmp_path).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("LOG_LEVEL", raising=False)


def test_export_bibtex_to_a_file(env: None, tmp_path: Path, capsys) -> None:
    out = tmp_path / "lib.bib"
    assert main(["export", "-o", str(out)]) == 0
    lib = bibtexparser.parse_string(out.read_text(encoding="utf-8"))
    assert not lib.failed_blocks
    by_key = {e.key: {f.key: f.value for f in e.fields} for e in lib.entries}
    assert set(by_key) == {"2401.00001", "turing" + "sparse", "hopperlatent"}
    first = by_key["2401.00001"]
    assert first["title"] == r"Diffusion caching for 50\% faster sampling"
    assert first["author"] == "Ada Lovelace and Kurt Gödel"
    assert (first["eprint"], first["archivePrefix"], first["primaryClass"]) == (
        "2401.00001", "arXiv", "cs.CV")
    assert by_key["turingsparse"]["title"] == r"Sparse\_attention \& friends"
    assert "exported 3 papers to" in capsys.readouterr().err

    assert main(["export", "diffusion", "-o", str(out)]) == 0
    keys = [e.key for e in bibtexparser.parse_string(out.read_text("utf-8")).entries]
    assert sorted(keys) == ["2401.00001", "hopperlatent"]


def test_export_jsonl_to_stdout_and_file(env: None, tmp_path: Path, capsys) -> None:
    assert main(["export", "attention", "--format", "jsonl"]) == 0
    captured = capsys.readouterr()
    rows = [json.loads(line) for line in captured.out.splitlines()]
    assert [r["title"] for r in rows] == ["Sparse_attention & friends"]
    assert rows[0]["authors"] == ["Alan Turing"]
    out = tmp_path / "all.jsonl"
    assert main(["export", "--format", "jsonl", "-o", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert {r["arxiv_id"] for r in rows} == {"2401.00001", None}
    assert len(rows) == 3


def test_export_usage_errors(env: None, capsys) -> None:
    assert main(["export", "the", "of"]) == 2  # only stop words: the search's own message
    assert "common words" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["export", "--format", "csv"])
