"""arXiv categories keep only arXiv category terms: the snapshot's `categories` field may
carry MSC codes (`nlin.SI 39-04, 39A05`) or ACM classes, which are not categories."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.importers.arxiv import arxiv_categories
from storage.db import Database
from storage.models import Paper
from tests.conftest import PAPERBOT


@pytest.mark.parametrize(("raw", "kept"), [
    ("nlin.SI 39-04, 39A05", "nlin.SI"),
    ("math.AP 35Q30, 76D05", "math.AP"),
    ("cs.CL cs.AI I.2.7; F.2.2", "cs.CL cs.AI"),
    ("hep-th q-bio.NC physics.flu-dyn cond-mat.mes-hall", "hep-th q-bio.NC physics.flu-dyn "
     "cond-mat.mes-hall"),
    ("stat.ML eess.AS econ.EM q-fin.ST astro-ph.GA math-ph quant-ph gr-qc",
     "stat.ML eess.AS econ.EM q-fin.ST astro-ph.GA math-ph quant-ph gr-qc"),
    ("alg-geom solv-int", "alg-geom solv-int"),  # archives arXiv retired, still on old papers
    ("cs.LG cs.LG, stat.ML", "cs.LG stat.ML"),
    ("68T50 I.2.7", None),
    ("", None),
])
def test_only_arxiv_category_terms_are_kept(raw: str, kept: str | None) -> None:
    assert arxiv_categories(raw) == kept


def test_import_stores_only_arxiv_categories(
    db: Database, paperbot_env: dict[str, str], tmp_path: Path
) -> None:
    lines = [
        {"id": "2401.00001", "title": "Discrete Painleve equations",
         "abstract": "We study discrete integrable systems.", "categories": "nlin.SI 39-04, 39A05",
         "update_date": "2024-01-02"},
        {"id": "2401.00002", "title": "Parsing with transformers",
         "abstract": "A parser.", "categories": "cs.CL I.2.7", "update_date": "2024-01-02"},
    ]
    path = tmp_path / "arxiv.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    done = subprocess.run([*PAPERBOT, "import", str(path)], env=paperbot_env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    with db.session() as s:
        got = {a: c for a, c in s.execute(select(Paper.arxiv_id, Paper.categories))}
    assert got == {"2401.00001": "nlin.SI", "2401.00002": "cs.CL"}
