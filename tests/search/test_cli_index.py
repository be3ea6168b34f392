"""`paperbot import` leaves a saved search index that is current, whatever happened before."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from bot import cli
from bot.search import persist
from storage.db import Database

DATA = Path(__file__).resolve().parents[1] / "importers" / "data"


@pytest.fixture
def cli_env(db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Environment for bot.cli.main on the test database; returns the index directory."""
    for key in list(os.environ):
        if key.startswith(("SLACK_", "PAPERBOT_")):
            monkeypatch.delenv(key)
    index_dir = tmp_path / "index"
    monkeypatch.setenv("DATABASE_URL", db.url)
    monkeypatch.setenv("PAPERBOT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PAPERBOT_INDEX_DIR", str(index_dir))
    monkeypatch.setenv("PAPERBOT_SCHEDULER", "0")
    return index_dir


def test_reimport_rebuilds_a_missing_index(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An import killed while building the index left none; rerunning it (every paper
    unchanged) used to leave none either, so the first search paid for a full build."""
    papers = str(DATA / "arxiv_snapshot.jsonl")
    assert cli.main(["import", papers]) == 0
    manifest = cli_env / persist.MANIFEST
    assert manifest.exists()
    first = json.loads(manifest.read_text())

    shutil.rmtree(cli_env)
    assert cli.main(["import", papers]) == 0
    assert "added 0, updated 0" in capsys.readouterr().out
    assert manifest.exists()
    again = json.loads(manifest.read_text())
    assert (again["rev"], again["n_docs"]) == (first["rev"], first["n_docs"])
    assert (cli_env / again["data_file"]).exists()

    assert cli.main(["import", papers]) == 0  # current: left as it is
    assert json.loads(manifest.read_text())["saved_at"] == again["saved_at"]
